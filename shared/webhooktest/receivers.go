package webhooktest

import (
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// RawServer listens on 127.0.0.1 and runs serve on each of at most max
// accepted connections, for receivers that don't speak HTTP properly. It
// returns the server's URL; when the test ends the listener and every
// connection are closed and RawServer waits for serve to return.
func RawServer(t testing.TB, max int, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for range max { // bounded
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				go func() { <-done; c.Close() }()
				serve(c)
			})
		}
	})
	return "http://" + ln.Addr().String() + "/hook"
}

// DripBody answers 200 and then drips a body, one byte every interval, n
// bytes at most, until the client goes away: a receiver slower than any
// attempt timeout.
func DripBody(n int, every time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for range n { // bounded
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(every):
			}
		}
	}
}
