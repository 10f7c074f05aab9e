package entra

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
)

// errNoBrowser: nothing can show a page here (a server, an SSH session); the printed URL is the
// way in.
var errNoBrowser = errors.New("no browser available; open the URL above on any device")

// openBrowser hands the URL to the desktop's handler without waiting for the browser to exit.
func openBrowser(_ context.Context, u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errNoBrowser
		}
		path, err := exec.LookPath("xdg-open")
		if err != nil {
			return errNoBrowser
		}
		cmd = exec.Command(path, u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }() // reap; the handler's exit status says nothing useful
	return nil
}
