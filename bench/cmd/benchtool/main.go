// Command benchtool is the Go half of the ecrsync benchmark harness
// (bench/run.sh is the other): it generates deterministic random images in a
// source registry, verifies copies, measures the raw registry ceiling and
// writes RESULTS.md. It talks plain HTTP to loopback registries only.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
)

const usage = `usage: benchtool COMMAND [flags]

commands:
  port                   print a free TCP port on 127.0.0.1
  wait HOST...           wait until each registry answers /v2/
  gen [flags]            push a deterministic random image, index or burst of tags
  verify [flags] SRC DST check that DST holds SRC's manifest digest and every blob
  ceiling [flags] SRC DST copy with raw GET + monolithic PUT, no client logic
  exec -o FILE [-each F] -- CMD  time CMD: wall, peak RSS, client and registry CPU
  report [flags]         write RESULTS.md from results.tsv and meta.tsv
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "port":
		err = freePort()
	case "wait":
		err = waitCmd(ctx, args)
	case "gen":
		err = genCmd(ctx, args)
	case "verify":
		err = verifyCmd(ctx, args)
	case "ceiling":
		err = ceilingCmd(ctx, args)
	case "exec":
		err = execCmd(args)
	case "report":
		err = reportCmd(args)
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// parseSize reads sizes like 64Mi, 2Gi, 16Ki or plain bytes.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suf, m := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if strings.HasSuffix(s, suf) {
			s, mult = strings.TrimSuffix(s, suf), m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return n * mult, nil
}

// sizeFlag is a flag.Value for parseSize.
type sizeFlag int64

func (s *sizeFlag) String() string { return strconv.FormatInt(int64(*s), 10) }
func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	*s = sizeFlag(n)
	return err
}

// readLines returns the non-empty lines of a file.
func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}
