package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest/benchenv"
)

// ctlMain sends one request to a running card process and prints its
// answer as indented JSON. A request the process refuses is an error.
func ctlMain(args []string) error {
	fs := flag.NewFlagSet("ctl", flag.ExitOnError)
	dir := fs.String("dir", benchenv.Dir(), "bench directory holding control.sock")
	fs.Parse(args)
	if fs.NArg() == 0 {
		return errors.New("ctl: give a request, e.g. stats")
	}
	c, err := net.DialTimeout("unix", controlSocket(*dir), 5*time.Second)
	if err != nil {
		return fmt.Errorf("no card process answers on %s: %w (start one with hw-test/bench up)", controlSocket(*dir), err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := fmt.Fprintln(c, strings.Join(fs.Args(), " ")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("card process did not answer: %w", err)
	}
	var refused struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(line, &refused) == nil && refused.Error != "" {
		return errors.New(refused.Error)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, line, "", "  "); err != nil {
		return fmt.Errorf("card process answered %q: %w", line, err)
	}
	_, err = os.Stdout.Write(out.Bytes())
	return err
}
