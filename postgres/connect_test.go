package postgres

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestConnectTimeoutDefaultsToTenSecondsUnlessTheURLSetsOne(t *testing.T) {
	t.Setenv("PGCONNECT_TIMEOUT", "")
	for dsn, want := range map[string]time.Duration{
		"postgres://u@127.0.0.1/db":                   DefaultConnectTimeout,
		"postgres://u@127.0.0.1/db?connect_timeout=3": 3 * time.Second,
	} {
		cfg, err := parseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.ConnConfig.ConnectTimeout; got != want {
			t.Errorf("%s: connect timeout %s, want %s", dsn, got, want)
		}
	}
	if DefaultConnectTimeout != 10*time.Second {
		t.Errorf("the README promises 10 s, the default is %s", DefaultConnectTimeout)
	}
}

// A server that accepts the connection and never answers fails the open
// after the connect timeout, with the address in the error.
func TestOpenFailsOnAServerThatNeverAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn // open, never answered; closed with the listener
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	_, err = Open(t.Context(), "postgres://u@"+addr.String()+"/db?sslmode=disable&connect_timeout=1")
	if err == nil || !strings.Contains(err.Error(), "connect to 127.0.0.1:"+strings.TrimPrefix(addr.String(), "127.0.0.1:")+": no answer within 1s") {
		t.Errorf("got %v", err)
	}
}
