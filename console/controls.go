package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mewsref/mewsref/gen/admin"
)

// The controls view: the test clock (clock/*) and the targeted fault rules
// (faults/*), so that a person can make the next calls fail, or move time,
// from the page. Every action is the admin API's operation, its body
// validated by the admin API's validator.

type controlsData struct {
	Clock      admin.AdminClock
	Frozen     bool
	Rules      []admin.AdminFaultRule
	Operations []string
	Statuses   []int
}

func (c *console) controls(w http.ResponseWriter, r *http.Request, s *session) {
	cres, err := c.cfg.API.AdminClockGet(r.Context(), admin.AdminClockGetRequestObject{Body: &admin.AdminEmpty{}})
	if err != nil {
		c.problem(w, r, s, err)
		return
	}
	fres, err := c.cfg.API.AdminFaultsGetAll(r.Context(), admin.AdminFaultsGetAllRequestObject{Body: &admin.AdminEmpty{}})
	if err != nil {
		c.problem(w, r, s, err)
		return
	}
	d := controlsData{
		Clock:      cres.(admin.AdminClockGet200JSONResponse).Body,
		Rules:      fres.(admin.AdminFaultsGetAll200JSONResponse).Body.FaultRules,
		Operations: operations,
		Statuses:   []int{400, 401, 403, 408, 429, 500, 503},
	}
	d.Frozen = string(d.Clock.Mode) == "frozen"
	c.render(w, r, http.StatusOK, "controls", s, page{Title: "Faults and clock", Nav: "controls", Data: d})
}

// optInt32 reads an optional whole number of a form; "" is absent.
func optInt32(r *http.Request, name string) (*int32, bool) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return nil, true
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return nil, false
	}
	i := int32(n)
	return &i, true
}

func optString(r *http.Request, name string) *string {
	if v := r.PostFormValue(name); v != "" {
		return &v
	}
	return nil
}

// addFault adds a fault rule: the admin API's faults/add.
func (c *console) addFault(w http.ResponseWriter, r *http.Request, s *session) {
	body := admin.AdminFaultRuleParameters{Operation: admin.AdminFaultOperation(r.PostFormValue("operation")),
		AccessToken: optString(r, "accessToken"), Message: optString(r, "message")}
	for name, dst := range map[string]**int32{"count": &body.Count, "delayMs": &body.DelayMs, "retryAfterSeconds": &body.RetryAfterSeconds, "status": nil} {
		v, ok := optInt32(r, name)
		if !ok {
			c.fail(w, r, s, http.StatusBadRequest, "The field "+name+" of the form must be a whole number.")
			return
		}
		if dst == nil {
			if v != nil {
				st := admin.AdminFaultRuleParametersStatus(*v)
				body.Status = &st
			}
			continue
		}
		*dst = v
	}
	if !c.call(w, r, s, "/_admin/v1/faults/add", body, func() error {
		_, err := c.cfg.API.AdminFaultsAdd(r.Context(), admin.AdminFaultsAddRequestObject{Body: &body})
		return err
	}) {
		return
	}
	http.Redirect(w, r, Prefix+"/controls", http.StatusSeeOther)
}

// clearFaults removes every fault rule: faults/clear.
func (c *console) clearFaults(w http.ResponseWriter, r *http.Request, s *session) {
	body := admin.AdminEmpty{}
	if !c.call(w, r, s, "/_admin/v1/faults/clear", body, func() error {
		_, err := c.cfg.API.AdminFaultsClear(r.Context(), admin.AdminFaultsClearRequestObject{Body: &body})
		return err
	}) {
		return
	}
	http.Redirect(w, r, Prefix+"/controls", http.StatusSeeOther)
}

// clock runs one of the clock's actions: set (freeze at an instant, or now),
// advance (by seconds) or release.
func (c *console) clock(w http.ResponseWriter, r *http.Request, s *session) {
	var ok bool
	switch r.PostFormValue("action") {
	case "set":
		body := admin.AdminClockSetParameters{}
		if v := strings.TrimSpace(r.PostFormValue("nowUtc")); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				c.fail(w, r, s, http.StatusBadRequest, "The instant must be written like 2026-12-01T09:30:00Z.")
				return
			}
			body.NowUtc = &t
		}
		ok = c.call(w, r, s, "/_admin/v1/clock/set", body, func() error {
			_, err := c.cfg.API.AdminClockSet(r.Context(), admin.AdminClockSetRequestObject{Body: &body})
			return err
		})
	case "advance":
		secs, err := strconv.ParseFloat(strings.TrimSpace(r.PostFormValue("seconds")), 64)
		if err != nil {
			c.fail(w, r, s, http.StatusBadRequest, "The seconds to advance must be a number.")
			return
		}
		body := admin.AdminClockAdvanceParameters{Seconds: secs}
		ok = c.call(w, r, s, "/_admin/v1/clock/advance", body, func() error {
			_, err := c.cfg.API.AdminClockAdvance(r.Context(), admin.AdminClockAdvanceRequestObject{Body: &body})
			return err
		})
	case "release":
		body := admin.AdminEmpty{}
		ok = c.call(w, r, s, "/_admin/v1/clock/release", body, func() error {
			_, err := c.cfg.API.AdminClockRelease(r.Context(), admin.AdminClockReleaseRequestObject{Body: &body})
			return err
		})
	default:
		c.fail(w, r, s, http.StatusBadRequest, "Unknown clock action.")
		return
	}
	if ok {
		http.Redirect(w, r, Prefix+"/controls", http.StatusSeeOther)
	}
}
