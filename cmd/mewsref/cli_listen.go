package main

// mewsref listen: the webhook development loop, like `stripe listen
// --forward-to`. It points an integration's webhooks at itself while it
// runs, prints every webhook as it arrives, forwards it to the app under
// development and answers the server with the app's status, so that the
// server's retries follow what the app does.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen/admin"
)

var cmdListen = &command{
	name:    "listen",
	summary: "receive an integration's webhooks here, print and forward them (admin)",
	args:    "[--integration NAME|ID] [--forward-to URL] [--addr host:port] [--json] --admin-token T",
	example: "mewsref listen --forward-to http://127.0.0.1:3000/mews/webhooks --admin-token secret\nmewsref listen --integration 3b62b101-9edf-5357-8b03-725a7169ca3e --json --admin-token secret",
	details: `While it runs, the integration's webhook URLs are this command's own
address (the server sends it every MessageAdded webhook); when it stops, on
Ctrl-C or SIGTERM, the URLs it replaced are set again. Each webhook is
printed as it arrives (one line per event, or one JSON object per webhook
with --json) and, with --forward-to, sent on to that URL: the server is
answered with the receiver's status (502 if it cannot be reached), so a
failing receiver sees the server's retries. Without --forward-to every
webhook is answered 200. The default integration is the first the server
lists (the first demo integration). If the process is killed (SIGKILL), the
URLs are not restored: set them again with webhooks/set.`,
	conn: true,
	setup: func(c *cli, fs *flag.FlagSet) func([]string) error {
		integration := fs.String("integration", "", "the integration whose webhooks to receive: its `name` or IntegrationId (default: the first the server lists)")
		forward := fs.String("forward-to", "", "send every webhook on to this `URL` and show its status")
		addr := fs.String("addr", "127.0.0.1:0", "where to receive the webhooks (`host:port`; port 0 picks a free one)")
		return func([]string) error {
			if *forward != "" {
				if err := checkURL(*forward); err != nil {
					return usagef("listen", "--forward-to: %v", err)
				}
			}
			return c.listen(*integration, *forward, *addr)
		}
	},
}

func checkURL(s string) error {
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return fmt.Errorf("%q is not an http or https URL", s)
	}
	return nil
}

func (c *cli) listen(integration, forward, addr string) (err error) {
	ctx, stop := signal.NotifyContext(c.ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	in, err := c.listenIntegration(integration)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	self := "http://" + ln.Addr().String() + "/webhooks"
	name := in.IntegrationId.String()
	if in.Name != nil {
		name = fmt.Sprintf("%q", *in.Name)
	}

	fw := &forwarder{c: c, to: forward, client: &http.Client{Timeout: 10 * time.Second}}
	srv := &http.Server{Handler: fw, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	if err := c.setWebhooks(in.IntegrationId, []string{self}); err != nil {
		_ = srv.Close()
		return err
	}
	// From here on the previous URLs are restored, however this ends.
	defer func() {
		// A context of its own: ctx is done when a signal stops us.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
		defer cancel()
		if rerr := c.setWebhooksCtx(rctx, in.IntegrationId, in.Urls); rerr != nil {
			err = errors.Join(err, fmt.Errorf("restore the webhook URLs of %s (%s): %w", name, strings.Join(in.Urls, " "), rerr))
			return
		}
		fmt.Fprintf(c.errOut, "Restored the webhook URLs of %s: %s\n", name, urlList(in.Urls))
	}()
	target := "printing them"
	if forward != "" {
		target = "forwarding them to " + forward
	}
	fmt.Fprintf(c.errOut, "Ready: receiving the webhooks of %s at %s, %s (previous URLs: %s). Ctrl-C to stop.\n",
		name, self, target, urlList(in.Urls))

	select {
	case err = <-served:
		return fmt.Errorf("listen: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

func urlList(urls []string) string {
	if len(urls) == 0 {
		return "none"
	}
	return strings.Join(urls, " ")
}

// listenIntegration finds the integration, or the first one listed.
func (c *cli) listenIntegration(nameOrID string) (admin.AdminWebhooks, error) {
	if nameOrID != "" {
		return c.findIntegration(nameOrID)
	}
	res, err := adminDo[admin.AdminWebhooksResult](c.ctx, c, "list integrations", (*admin.Client).AdminWebhooksGetAll, admin.AdminEmpty{})
	if err != nil {
		return admin.AdminWebhooks{}, err
	}
	if len(res.Webhooks) == 0 {
		return admin.AdminWebhooks{}, errors.New("the server has no integration")
	}
	return res.Webhooks[0], nil
}

func (c *cli) setWebhooks(id uuid.UUID, urls []string) error {
	return c.setWebhooksCtx(c.ctx, id, urls)
}

func (c *cli) setWebhooksCtx(ctx context.Context, id uuid.UUID, urls []string) error {
	_, err := adminDo[admin.AdminWebhooks](ctx, c, "set webhooks", (*admin.Client).AdminWebhooksSet, admin.AdminWebhooks{IntegrationId: id, Urls: orEmpty(urls)})
	return err
}

// forwarder receives the server's webhooks.
type forwarder struct {
	c      *cli
	to     string
	client *http.Client
	mu     sync.Mutex // one webhook printed at a time
}

// listened is one webhook as --json prints it.
type listened struct {
	ReceivedUtc time.Time             `json:"ReceivedUtc"`
	Webhook     *admin.GeneralWebhook `json:"Webhook"`
	ForwardedTo *string               `json:"ForwardedTo"`
	StatusCode  *int                  `json:"StatusCode"`
	Error       *string               `json:"Error"`
}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, "read the webhook: "+err.Error(), http.StatusBadRequest)
		return
	}
	out := listened{ReceivedUtc: time.Now().UTC().Truncate(time.Second)}
	var hook admin.GeneralWebhook
	if err := json.Unmarshal(body, &hook); err == nil {
		out.Webhook = &hook
	}
	status := http.StatusOK
	if f.to != "" {
		out.ForwardedTo = &f.to
		code, ferr := f.forward(r, body)
		if ferr != nil {
			msg := ferr.Error()
			out.Error, status = &msg, http.StatusBadGateway
		} else {
			out.StatusCode, status = &code, code
		}
	}
	f.print(out, body)
	w.WriteHeader(status)
}

// forward sends the webhook on with its body and content headers.
func (f *forwarder) forward(r *http.Request, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, f.to, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for _, h := range []string{"Content-Type", "User-Agent"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	res, err := f.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, nil
}

func (f *forwarder) print(l listened, raw []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.c.json {
		_ = json.NewEncoder(f.c.out).Encode(l)
		return
	}
	outcome := ""
	switch {
	case l.Error != nil:
		outcome = "  -> " + f.to + ": " + *l.Error
	case l.StatusCode != nil:
		outcome = fmt.Sprintf("  -> %s [%d %s]", f.to, *l.StatusCode, http.StatusText(*l.StatusCode))
	}
	at := l.ReceivedUtc.Format(time.RFC3339)
	if l.Webhook == nil {
		fmt.Fprintf(f.c.out, "%s  webhook that is not a General Webhook: %s%s\n", at, oneLine(string(raw)), outcome)
		return
	}
	for _, e := range l.Webhook.Events {
		fmt.Fprintf(f.c.out, "%s  %s  message %s  enterprise %s%s\n", at, e.Discriminator, e.Value.Id, l.Webhook.EnterpriseId, outcome)
	}
}
