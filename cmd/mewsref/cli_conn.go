package main

// What the commands with conn share: the clients of both sides, errors of
// the admin API, and the output (a table, or JSON with --json).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/server"
)

// demoCredentials are the default tokens of the client commands: the first
// demo integration and its first enterprise.
func demoCredentials() client.Credentials {
	demo := server.DemoIntegrations()[0]
	return client.Credentials{ClientToken: demo.ClientToken, AccessToken: demo.AccessTokens[0].Token}
}

// client is the integration's side, through the client package. It sends
// every request once: the CLI shows what the server answered, a 429 or an
// injected fault included, where the client's retries would wait for
// Retry-After in silence and use up a fault rule's strikes.
func (c *cli) client() (*client.Client, error) {
	return client.New(c.url, client.Credentials{ClientToken: c.clientToken, AccessToken: c.accessToken, Client: "mewsref CLI"},
		client.WithoutRetries())
}

// now is the server's clock when the command has the admin token (a test
// may have frozen or advanced it, see clock/*), else this machine's: the
// instant that "the last N days" and "10m ago" count back from. When the
// server's clock cannot be read, it says so on stderr and counts back from
// this machine's.
func (c *cli) now() time.Time {
	if c.adminToken != "" {
		res, err := adminDo[admin.AdminClock](c.ctx, c, "clock get", (*admin.Client).AdminClockGet, admin.AdminEmpty{})
		if err == nil {
			return res.NowUtc
		}
		fmt.Fprintf(c.errOut, "mewsref: warning: counting back from this machine's clock, not the server's: %v\n", err)
	}
	return time.Now()
}

// admin is the enterprise's side, through the generated admin client.
func (c *cli) admin() (*admin.Client, error) {
	if c.adminToken == "" {
		return nil, errors.New("this command needs --admin-token (or MEWSREF_ADMIN_TOKEN), the token the server was started with")
	}
	return admin.NewClient(c.url, admin.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+c.adminToken)
		return nil
	}))
}

// adminDo makes one call of the admin API: send (a method of
// admin.Client, such as (*admin.Client).AdminMessagesAdd) with body, and
// returns the 200 answer's body. Its errors begin with op: a call that
// fails, or an answer other than 200 (adminError).
func adminDo[T, B any](ctx context.Context, c *cli, op string, send func(*admin.Client, context.Context, B, ...admin.RequestEditorFn) (*http.Response, error), body B) (*T, error) {
	ac, err := c.admin()
	if err != nil {
		return nil, err
	}
	rsp, err := send(ac, ctx, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rsp.Body.Close()
	raw, err := io.ReadAll(rsp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if rsp.StatusCode != http.StatusOK {
		return nil, adminError(op, rsp, raw)
	}
	out := new(T)
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// adminError is the error of an admin call answered without its 200 body:
// the server's Message, and what to do when the admin API is off.
func adminError(op string, rsp *http.Response, raw []byte) error {
	var e struct{ Message string }
	_ = json.Unmarshal(raw, &e)
	err := fmt.Errorf("%s: %s: %s", op, rsp.Status, e.Message)
	if rsp.StatusCode == http.StatusNotFound && strings.HasPrefix(e.Message, "No operation at") && !strings.Contains(e.Message, "-admin-token") {
		// A server older than the one that says so itself.
		err = fmt.Errorf("%w (is the admin API on? the server must be started with -admin-token TOKEN, and this command given the same --admin-token)", err)
	}
	return err
}

func (c *cli) print(v any, table func(w *tabwriter.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	table(w)
	return w.Flush()
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > 60 {
		return string(r[:59]) + "…"
	}
	return s
}
