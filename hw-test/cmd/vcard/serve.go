package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pivauth/pivauth/hw-test/benchtest/benchenv"
	"github.com/pivauth/pivauth/hw-test/vcard"
	"github.com/pivauth/pivauth/hw-test/vpcd"
)

// controlSocket is the unix socket of the card process in the bench dir.
func controlSocket(dir string) string { return filepath.Join(dir, "control.sock") }

// server is a running card process.
type server struct {
	card   *vcard.Card
	attach *vpcd.Attachment
	port   int
	state  string
}

func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	dir := fs.String("dir", benchenv.Dir(), "bench directory: control socket, locks, bench CA")
	port := fs.Int("port", benchenv.DefaultPort, "vpcd port to attach the card to")
	profile := fs.String("profile", string(vcard.ProfileYubiKey), "card profile for a new state file: yubikey or piv")
	state := fs.String("state", "", "card state file (default DIR/card-PROFILE.json); a missing file is a factory-fresh card")
	latency := fs.Duration("latency", 0, "delay before every APDU is answered")
	flaky := fs.String("flaky", "", "RATE[:SW]: fail this fraction of APDUs by dropping the connection, or with status word SW")
	trace := fs.String("trace", "", "append an APDU trace (PINs and keys redacted) to this file")
	quirks := fs.String("quirks", "", "comma-separated card quirks (vcard.Quirks), recorded in the state file; \"none\" clears them")
	timing := fs.String("timing", "", "yubikey5: private-key operations take a YubiKey 5's time (vcard.YubiKey5Times) and every APDU vcard.YubiKey5APDUTime more than -latency")
	fs.Parse(args)
	if fs.NArg() != 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if *state == "" {
		*state = filepath.Join(*dir, "card-"+*profile+".json")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}

	unlock, err := benchenv.LockPort(*dir, *port)
	if err != nil {
		return fmt.Errorf("port %d: %w (a test or another card process uses that reader)", *port, err)
	}
	defer unlock()

	ca, err := vcard.BenchCA(*dir)
	if err != nil {
		return err
	}
	card, err := vcard.OpenWithCA(*state, vcard.Profile(*profile), ca)
	if err != nil {
		return err
	}
	if *quirks != "" {
		var qs []vcard.Quirk // "none": clear them
		if *quirks != "none" {
			if qs, err = vcard.ParseQuirks(*quirks); err != nil {
				return err
			}
		}
		if err := card.SetQuirks(qs...); err != nil {
			return err
		}
	}
	opts := vpcd.Options{Latency: *latency}
	switch *timing {
	case "":
	case "yubikey5":
		card.SetOperationTimes(vcard.YubiKey5Times)
		opts.Latency += vcard.YubiKey5APDUTime
	default:
		return fmt.Errorf("serve: -timing %q: the timing known is yubikey5", *timing)
	}
	if *trace != "" {
		f, err := os.OpenFile(*trace, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("trace file: %w", err)
		}
		defer f.Close()
		opts.Trace = f
	}
	s := &server{card: card, port: *port, state: *state}

	ln, err := listenControl(controlSocket(*dir))
	if err != nil {
		return err
	}
	defer os.Remove(controlSocket(*dir))
	defer ln.Close()

	s.attach = vpcd.Attach(card, *port, opts)
	defer s.attach.Close()
	if *flaky != "" {
		f, err := parseFlaky(*flaky)
		if err != nil {
			return err
		}
		s.attach.SetFlaky(f)
	}
	log.Printf("vcard: %s card (state %s) on vpcd port %d = reader %q; control socket %s",
		card.Profile(), *state, *port, benchenv.ReaderName(*port), controlSocket(*dir))

	go s.acceptLoop(ln)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	log.Printf("vcard: %v, detaching", <-sig)
	return nil
}

// listenControl listens on the control socket, replacing a stale socket
// file but never one a live card process answers on.
func listenControl(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another card process answers on %s: stop it with hw-test/bench down", path)
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func (s *server) acceptLoop(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go s.handle(c)
	}
}

// handle answers one request line with one JSON line.
func (s *server) handle(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	resp, err := s.do(strings.Fields(line))
	if err != nil {
		resp = map[string]string{"error": err.Error()}
	}
	b, _ := json.Marshal(resp)
	c.Write(append(b, '\n'))
}

// requests maps every control request to the number of arguments it takes.
var requests = map[string]int{
	"stats": 0, "stats-reset": 0, "pull": 0, "insert": 0, "status": 0,
	"pull-during": 1, "latency": 1, "flaky": 1,
}

// do runs one control request.
func (s *server) do(req []string) (any, error) {
	if len(req) == 0 {
		return nil, errors.New("empty request")
	}
	name, args := req[0], req[1:]
	want, known := requests[name]
	if !known {
		return nil, fmt.Errorf("unknown request %q (stats, stats-reset, pull, insert, pull-during INS, latency D, flaky RATE[:SW], status)", name)
	}
	if len(args) != want {
		return nil, fmt.Errorf("%s takes %d argument(s), got %d", name, want, len(args))
	}
	switch name {
	case "stats":
		return s.card.Stats(), nil
	case "stats-reset":
		st := s.card.Stats()
		s.card.ResetStats()
		return st, nil
	case "pull":
		s.attach.Pull()
	case "insert":
		s.attach.Insert()
	case "pull-during":
		ins, err := strconv.ParseUint(args[0], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("pull-during %q: want an instruction byte in hex, e.g. 87", args[0])
		}
		s.attach.PullDuring(byte(ins))
	case "latency":
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return nil, fmt.Errorf("latency %q: %w", args[0], err)
		}
		s.attach.SetLatency(d)
	case "flaky":
		f, err := parseFlaky(args[0])
		if err != nil {
			return nil, err
		}
		s.attach.SetFlaky(f)
	case "status":
		return map[string]any{
			"profile":   s.card.Profile(),
			"port":      s.port,
			"reader":    benchenv.ReaderName(s.port),
			"state":     s.state,
			"inserted":  s.attach.Inserted(),
			"connected": s.attach.Connected(),
			"pid":       os.Getpid(),
		}, nil
	}
	return map[string]bool{"ok": true}, nil
}
