package main

import (
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"

	"guichet/store"
)

func init() {
	register(&command{
		name: "agent add", args: "ADDR [--name NAME]",
		summary: "Register a member of the support team (or rename one).",
		flags:   func(fs *flag.FlagSet) { fs.String("name", "", "display `name`") },
		run: func(e *env, fs *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return usagef("want one address")
			}
			return withStore(e, func(s *store.Store) error {
				if err := s.AddAgent(e.ctx, args[0], flagString(fs, "name"), e.now()); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "agent %s added\n", args[0])
				return nil
			})
		},
	})
	register(&command{
		name: "agent list", summary: "List the support team.",
		run: func(e *env, _ *flag.FlagSet, args []string) error {
			if len(args) > 0 {
				return usagef("takes no arguments")
			}
			return withStore(e, func(s *store.Store) error {
				as, err := s.Agents(e.ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				for _, a := range as {
					fmt.Fprintf(tw, "%s\t%s\n", a.Address, a.Name)
				}
				return tw.Flush()
			})
		},
	})
	register(&command{
		name: "agent remove", args: "ADDR",
		summary: "Unregister an agent; tickets assigned to them keep the address.",
		run: func(e *env, _ *flag.FlagSet, args []string) error {
			if len(args) != 1 {
				return usagef("want one address")
			}
			return withStore(e, func(s *store.Store) error {
				err := s.RemoveAgent(e.ctx, args[0])
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("%s is not an agent", args[0])
				}
				if err == nil {
					fmt.Fprintf(e.stdout, "agent %s removed\n", args[0])
				}
				return err
			})
		},
	})
}

// withStore opens the store for one command and closes it after. The changes the command
// makes write their notifications.
func withStore(e *env, fn func(s *store.Store) error) error {
	s, err := e.openStore()
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := e.notifying(s); err != nil {
		return err
	}
	return fn(s)
}

func flagString(fs *flag.FlagSet, name string) string {
	if f := fs.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

func flagInt(fs *flag.FlagSet, name string) int {
	if f := fs.Lookup(name); f != nil {
		if g, ok := f.Value.(flag.Getter); ok {
			if n, ok := g.Get().(int); ok {
				return n
			}
		}
	}
	return 0
}

func flagBool(fs *flag.FlagSet, name string) bool {
	return flagString(fs, name) == "true"
}
