// Command coffer is the Coffer secrets service (coffer serve), its offline
// tools, and a command-line client for the secrets and workspaces APIs.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// exitError carries an exit status through cobra so main decides it in one place.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageError is exit status 2 (docs/cli.md, "Exit status").
func usageError(msg string) error { return &exitError{code: 2, msg: msg} }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "coffer",
		Short:         "Coffer: a secrets service for ML platforms",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err.Error()) })
	root.AddCommand(newServeCmd())
	root.AddCommand(newSecretsCmd())
	root.AddCommand(newWorkspacesCmd())
	root.AddCommand(newBenchCmd())
	root.AddCommand(newImportCmd())
	root.AddCommand(newRunCmd())
	root.AddCommand(newAuditCmd())
	root.AddCommand(newVersionCmd())
	setVersionFlag(root)
	strictGroups(root)
	return root
}

// groupAnnotation marks the commands strictGroups made runnable.
const groupAnnotation = "coffer-command-group"

// strictGroups makes every command below root that only holds subcommands
// refuse an unknown subcommand with exit status 2, as root does: cobra
// itself prints the help and exits 0 for those, which hides a typo from a
// script. A group alone still prints its help.
func strictGroups(root *cobra.Command) {
	for _, c := range root.Commands() {
		strictGroups(c)
		if !c.HasSubCommands() || c.Runnable() {
			continue
		}
		c.Args = cobra.ArbitraryArgs
		c.Annotations = map[string]string{groupAnnotation: "true"}
		c.SuggestionsMinimumDistance = 2 // cobra's own default for root
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("Error: unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
			}
			return usageError(msg + "\nRun '" + cmd.CommandPath() + " --help' for usage.")
		}
	}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the process exit status.
func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "Error:", err)
	// cobra's own argument and unknown-command errors are usage errors.
	return 2
}
