package main

import (
	"net/url"
	"slices"
	"strings"
)

// secretParams are the parameters of a PostgreSQL URL whose values are
// secrets (libpq's password and the passphrase of the client key).
var secretParams = []string{"password", "sslpassword"}

const masked = "xxxxx"

// redactDSN hides every secret of a database URL (the password of
// user:pass@ and the password= and sslpassword= parameters), for logs and
// errors. A SQLite path is returned as it is.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return maskSecrets(dsn, dsnSecrets(dsn))
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), masked)
	}
	q := u.Query()
	changed := false
	for _, p := range secretParams {
		if q.Has(p) {
			q.Set(p, masked)
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// dsnSecrets returns the secrets of a database URL, as written and decoded,
// to mask them in text that quotes the DSN (a driver's error message).
func dsnSecrets(dsn string) []string {
	var secrets []string
	add := func(raw, decoded string) {
		for _, s := range []string{raw, decoded} {
			if s != "" {
				secrets = append(secrets, s)
			}
		}
	}
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok || scheme == "" {
		return nil
	}
	authority, _, _ := strings.Cut(rest, "/")
	if userinfo, _, ok := strings.Cut(authority, "@"); ok {
		if _, pass, ok := strings.Cut(userinfo, ":"); ok {
			dec, _ := url.PathUnescape(pass)
			add(pass, dec)
		}
	}
	if _, query, ok := strings.Cut(dsn, "?"); ok {
		for kv := range strings.SplitSeq(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			for _, p := range secretParams {
				if k == p {
					dec, _ := url.QueryUnescape(v)
					add(v, dec)
				}
			}
		}
	}
	return secrets
}

// maskSecrets replaces every occurrence of the secrets in s, the longest
// first, so that a secret inside another leaves nothing of it.
func maskSecrets(s string, secrets []string) string {
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, secret := range secrets {
		s = strings.ReplaceAll(s, secret, masked)
	}
	return s
}
