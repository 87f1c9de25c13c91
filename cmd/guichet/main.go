// Command guichet is the e-mail ticketing gateway: one binary whose subcommands run the
// server, migrate the database, and let a technician work tickets from the command line.
// This package only wires the other packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"guichet/config"
	"guichet/store"
)

// Exit codes.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitTempFail = 75 // EX_TEMPFAIL: the database is unavailable, try again later
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what a command runs with.
type env struct {
	ctx    context.Context
	cfg    config.Config
	getenv func(string) (string, bool)
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	now    func() time.Time
}

// command is one subcommand with its help.
type command struct {
	name    string // "ticket create"
	args    string // what follows the name in the usage line
	summary string
	run     func(e *env, fs *flag.FlagSet, args []string) error
	flags   func(fs *flag.FlagSet) // declares the command's flags; nil for none
}

// usageError is a mistake in how a command was called: exit 2 and the command's usage.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

var commands []*command

func register(c *command) { commands = append(commands, c) }

// run executes one invocation and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c := find(args[1:]); c != nil {
				printUsage(stdout, c, flagSet(c, stdout))
				return exitOK
			}
		}
		overview(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c := find(args)
	if c == nil {
		fmt.Fprintf(stderr, "guichet: unknown command %q\n", strings.Join(args[:min(2, len(args))], " "))
		overview(stderr)
		return exitUsage
	}
	rest := args[len(strings.Fields(c.name)):]
	fs := flagSet(c, stderr)
	pos, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage // the flag package has printed the error and the usage
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "guichet: %v\n", err)
		return exitError
	}
	e := &env{ctx: ctx, cfg: cfg, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel(cfg.LogLevel)}))}
	err = c.run(e, fs, pos)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "guichet %s: %s\n", c.name, ue.msg)
		printUsage(stderr, c, fs)
		return exitUsage
	case errors.Is(err, store.ErrUnavailable):
		fmt.Fprintf(stderr, "guichet: %v\n", err)
		return exitTempFail
	}
	fmt.Fprintf(stderr, "guichet: %v\n", err)
	return exitError
}

// find returns the command whose name starts args: the two-word ones ("ticket create") first.
func find(args []string) *command {
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c
		}
	}
	return nil
}

func flagSet(c *command, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("guichet "+c.name, flag.ContinueOnError)
	fs.SetOutput(out)
	if c.flags != nil {
		c.flags(fs)
	}
	fs.Usage = func() { printUsage(out, c, fs) }
	return fs
}

func printUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: guichet %s %s\n\n%s\n", c.name, c.args, c.summary)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

func overview(w io.Writer) {
	fmt.Fprintln(w, "guichet: an e-mail ticketing gateway\n\nusage: guichet COMMAND [ARGS]\n\ncommands:")
	cs := append([]*command(nil), commands...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, firstLine(c.summary))
	}
	fmt.Fprintln(w, "\n`guichet help COMMAND` or `guichet COMMAND -h` describes one; settings come from GUICHET_* variables and guichet.toml (see README).")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// parseInterspersed parses flags that may come before, between or after positional arguments,
// as in `guichet ticket assign 42 alice@example.com --by bob@example.com`.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func logLevel(s string) slog.Level {
	var l slog.Level
	l.UnmarshalText([]byte(s))
	return l
}

// openStore opens the configured store and refuses one whose schema is not current.
func (e *env) openStore() (*store.Store, error) {
	s, err := store.Open(e.ctx, e.cfg.DB, &store.Options{Logger: e.log, TicketStart: e.cfg.TicketStart})
	if err != nil {
		return nil, err
	}
	if err := s.CheckSchema(e.ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
