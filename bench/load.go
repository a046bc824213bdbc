package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// result is what one load run measured.
type result struct {
	requests int
	failures int
	elapsed  time.Duration
	p50, p99 time.Duration
	firstErr string
}

func (r result) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// load sends POST requests to url from conc workers, each on its own
// keep-alive connection, for d; body(worker, i) gives each request's body.
func load(ctx context.Context, url string, conc int, d time.Duration, body func(worker, i int) []byte) result {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu       sync.Mutex
		all      []time.Duration
		failures int
		firstErr string
		wg       sync.WaitGroup
	)
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			fails, errText := 0, ""
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				status, err := post(hc, url, body(w, i))
				if ctx.Err() != nil {
					break // a request cut by the end of the run is not counted
				}
				if err != nil || status != http.StatusOK {
					fails++
					if errText == "" {
						errText = fmt.Sprintf("status %d, %v", status, err)
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			failures += fails
			if firstErr == "" {
				firstErr = errText
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := result{requests: len(all), failures: failures, elapsed: time.Since(start), firstErr: firstErr}
	if len(all) > 0 {
		slices.Sort(all)
		r.p50 = all[len(all)/2]
		r.p99 = all[len(all)*99/100]
	}
	return r
}

func post(hc *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, err
}
