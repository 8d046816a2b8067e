package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// execCmd runs a command (or, with -each, the command once per line of a file
// with {} replaced by the line, one after another, as a user's shell loop
// would) and writes one line to -o:
//
//	wall_seconds max_rss_kib client_cpu_seconds server_cpu_seconds exit_code
//
// max_rss is the largest peak resident set of any of the processes (wait4's
// ru_maxrss, what GNU time's %M reports); client CPU is their user+system
// time summed; server CPU is the user+system time the -pids processes (the
// registries) spent meanwhile, read from /proc.
func execCmd(args []string) error {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	out := fs.String("o", "", "file to write the measurement to")
	each := fs.String("each", "", "run the command once per line of this file, {} replaced by the line")
	pids := fs.String("pids", "", "space-separated process ids whose CPU time to count as server CPU")
	log := fs.String("log", "", "file for the command's stdout and stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	argv := fs.Args()
	if len(argv) == 0 || *out == "" {
		return fmt.Errorf("want -o FILE -- COMMAND...")
	}
	items := []string{""}
	if *each != "" {
		var err error
		if items, err = readLines(*each); err != nil {
			return err
		}
	}
	logf := os.Stdout
	if *log != "" {
		f, err := os.OpenFile(*log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		logf = f
	}
	var server []int
	for _, p := range strings.Fields(*pids) {
		n, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("-pids: %w", err)
		}
		server = append(server, n)
	}
	srv0 := procCPU(server)
	var maxRSS int64
	var cpu time.Duration
	code := 0
	start := time.Now()
	for _, it := range items {
		a := make([]string, len(argv))
		for i, s := range argv {
			a[i] = strings.ReplaceAll(s, "{}", it)
		}
		c := exec.Command(a[0], a[1:]...)
		c.Stdout, c.Stderr = logf, logf
		err := c.Run()
		if c.ProcessState != nil {
			ru := c.ProcessState.SysUsage().(*syscall.Rusage)
			maxRSS = max(maxRSS, ru.Maxrss)
			cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		if err != nil {
			code = 1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			break
		}
	}
	wall := time.Since(start)
	srv := procCPU(server) - srv0
	line := fmt.Sprintf("%.4f %d %.3f %.3f %d\n", wall.Seconds(), maxRSS, cpu.Seconds(), srv.Seconds(), code)
	return os.WriteFile(*out, []byte(line), 0o644)
}

// procCPU sums the user and system time of the given processes.
func procCPU(pids []int) time.Duration {
	const clockTick = 100 // USER_HZ on Linux
	var ticks int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)  // utime, field 14
		st, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
		ticks += u + st
	}
	return time.Duration(ticks) * time.Second / clockTick
}
