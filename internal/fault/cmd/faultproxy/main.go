// Command faultproxy puts the fault injector of internal/fault in front of any registry, as an
// HTTP reverse proxy on 127.0.0.1, so that any client (ecrsync, crane, regctl, oras, skopeo) can
// be run through the same reproducible faults.
//
//	go run ./internal/fault/cmd/faultproxy -target http://127.0.0.1:5000 -kinds 500,502,503 -rate 0.1 -seed 7
//
// It prints "listening on 127.0.0.1:PORT" on stdout once it serves. GET /_fault/stats answers the
// faults injected so far as JSON; POST /_fault/rate?r=0.05 changes the rate. On SIGINT or SIGTERM
// it prints the stats on stderr and exits.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/ecrsync/ecrsync/internal/fault"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("faultproxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	target := fs.String("target", "", "registry to proxy to, http://host:port (required)")
	seed := fs.Uint64("seed", 1, "seed for the fault draws; the same seed draws the same faults for the same requests")
	rate := fs.Float64("rate", 0.1, "share of eligible requests that get a fault, 0..1")
	kinds := fs.String("kinds", "500,502,503", "comma-separated fault kinds: "+fmt.Sprint(fault.AllKinds))
	limit := fs.Int("limit", 0, "most faults to inject; 0 means no cap")
	delay := fs.Duration("delay", 200*time.Millisecond, "wait for latency and stall faults")
	burst := fs.Int("burst", 0, "each fault repeats on this many eligible requests in a row")
	bandwidth := fs.Int64("bandwidth", 0, "bytes per second for all bodies through the proxy; 0 means no cap")
	match := fs.String("match", "", `regexp over "METHOD /path" picking eligible requests; empty means all but GET /v2/`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *target == "" {
		fmt.Fprintln(os.Stderr, "faultproxy: -target is required")
		return 2
	}
	ks, err := fault.ParseKinds(*kinds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultproxy:", err)
		return 2
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || !(host == "localhost" || net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback()) {
		fmt.Fprintf(os.Stderr, "faultproxy: -listen %q: want a loopback address\n", *listen)
		return 2
	}
	cfg := fault.Config{Seed: *seed, Rate: *rate, Kinds: ks, Limit: *limit, Delay: *delay, Burst: *burst, Bandwidth: *bandwidth}
	if *match != "" {
		re, err := regexp.Compile(*match)
		if err != nil {
			fmt.Fprintln(os.Stderr, "faultproxy: -match:", err)
			return 2
		}
		cfg.Match = func(r *http.Request) bool { return re.MatchString(r.Method + " " + r.URL.Path) }
	}
	in, err := fault.NewProxy(*target, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultproxy:", err)
		return 2
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_fault/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(stats(in))
	})
	mux.HandleFunc("POST /_fault/rate", func(w http.ResponseWriter, r *http.Request) {
		v, err := strconv.ParseFloat(r.URL.Query().Get("r"), 64)
		if err != nil || v < 0 || v > 1 {
			http.Error(w, "r: want a number in 0..1", http.StatusBadRequest)
			return
		}
		in.SetRate(v)
	})
	mux.Handle("/", in)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultproxy:", err)
		return 1
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Printf("listening on %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "faultproxy:", err)
		return 1
	}
	json.NewEncoder(os.Stderr).Encode(stats(in))
	return 0
}

func stats(in *fault.Injector) map[string]any {
	return map[string]any{"total": in.Total(), "injected": in.Injected()}
}
