// Package cli is ecrsync's command line: a thin layer over the engine, one file per command.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/ecrsync/ecrsync/internal/awsregion"
	"github.com/ecrsync/ecrsync/internal/buildinfo"
	"github.com/ecrsync/ecrsync/internal/replicate"
)

// Exit codes.
const (
	ExitOK        = 0
	ExitFailed    = 1 // the work failed (a copy, a sync)
	ExitUsage     = 2 // bad flags, arguments or config
	ExitRetryable = 3 // failed for a passing reason (throttling, 5xx, network): run it again
)

// Version is the version of this build (internal/buildinfo: stamped at build time with -ldflags,
// else what the Go toolchain recorded); user agents carry it.
var Version = buildinfo.Get().Version

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// globals are the flags every command shares.
type globals struct {
	logLevel  string
	logFormat string
	output    string
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	logs      io.Writer // where log lines go; nil means stderr
}

func (g *globals) logOut() io.Writer {
	if g.logs != nil {
		return g.logs
	}
	return g.stderr
}

// logger builds the slog logger the flags ask for: text on a terminal, JSON otherwise.
func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	format := g.logFormat
	if format == "auto" {
		format = "json"
		if isTerminal(g.stderr) {
			format = "text"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(g.logOut(), opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.logOut(), opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want auto, text or json", g.logFormat)}
}

func (g *globals) checkOutput() error {
	if g.output != "text" && g.output != "json" {
		return usageError{fmt.Errorf("--output %q: want text or json", g.output)}
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewRoot returns the root command.
func NewRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "ecrsync",
		Short: "Keep container images in sync across registries, AWS accounts and Regions",
		Long: `ecrsync copies container images bit for bit — every platform, layer, signature and SBOM —
between registries. It runs as a CLI and, unchanged, as the AWS Lambda function that syncs
ECR pushes across accounts.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetVersionTemplate(buildinfo.String() + "\n")
	root.SetIn(g.stdin)
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	pf.StringVar(&g.logFormat, "log-format", "auto", "log format: auto (text on a terminal, else JSON), text or json")
	pf.StringVarP(&g.output, "output", "o", "text", "result format on stdout: text or json")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{suggestFlag(c, err)} })
	// The shared flags are checked before any command runs: a bad --log-level, --log-format or
	// --output is a usage error (exit 2) whatever the command.
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if _, err := g.logger(); err != nil {
			return err
		}
		return g.checkOutput()
	}
	// Every command, in the order help lists them.
	root.AddCommand(newCopy(g), newHandle(g), newReplay(g), newSync(g), newConfig(g), newDev(g), newVersion(g))
	// An unknown command or the wrong number of arguments is a usage error (exit 2).
	for _, c := range append([]*cobra.Command{root}, root.Commands()...) {
		if c.HasSubCommands() {
			c.Args = cobra.ArbitraryArgs
			c.RunE = unknownCommand
			c.SuggestionsMinimumDistance = 2
		}
	}
	var mark func(*cobra.Command)
	mark = func(c *cobra.Command) {
		if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError{err}
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			mark(sub)
		}
	}
	mark(root)
	return root
}

// unknownCommand is the RunE of a command that only groups others: help without arguments, else
// a usage error that names the nearest command.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	err := fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		err = fmt.Errorf("%w: did you mean %q?", err, s[0])
	}
	return usageError{err}
}

// suggestFlag adds the nearest flag's name to an unknown flag's error.
func suggestFlag(cmd *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if !errors.As(err, &ne) || len(ne.GetSpecifiedName()) < 2 {
		return err
	}
	typed := ne.GetSpecifiedName()
	best, bestD := "", 3 // at most two edits away, as cobra suggests commands
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		d := awsregion.Distance(typed, f.Name)
		if strings.HasPrefix(f.Name, typed) {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return err
	}
	return fmt.Errorf("%w: did you mean --%s?", err, best)
}

// Main runs the CLI and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	out := &countingWriter{w: stdout}
	g := &globals{stdin: stdin, stdout: out, stderr: stderr}
	root := NewRoot(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	msg, hint := strings.TrimSpace(err.Error()), replicate.Hint(err)
	fmt.Fprintln(stderr, "ecrsync:", msg)
	if hint != "" {
		fmt.Fprintln(stderr, "ecrsync: hint:", hint)
	}
	code := exitCode(err)
	// With --output json, a command that failed before writing its result writes an error
	// object instead, so a script reading stdout always gets JSON.
	if g.output == "json" && out.n == 0 {
		json.NewEncoder(stdout).Encode(errorObject{Error: msg, Hint: hint, ExitCode: code})
	}
	return code
}

// errorObject is what a failed command writes on stdout with --output json.
type errorObject struct {
	Error    string `json:"error"`
	Hint     string `json:"hint,omitempty"`
	ExitCode int    `json:"exitCode"`
}

// exitCode is the process exit code for a command's error.
func exitCode(err error) int {
	var ue usageError
	var ee exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return ExitUsage
	}
	return ExitFailed
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
