package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/buildinfo"
)

// newVersionCmd is `coffer version`: this binary's version, commit, build
// date and Go version (docs/operations.md, "Build info"), as one line or, with
// -f json|yaml, as the document GET /version answers.
func newVersionCmd() *cobra.Command {
	format := formatTable
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := buildinfo.Get()
			if format == formatTable {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), info.String())
				return err
			}
			raw, err := json.Marshal(info)
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), format, raw)
		},
	}
	cmd.Flags().VarP(&format, "output-format", "f", "output format: table (one line), json or yaml")
	return cmd
}

// setVersionFlag gives root a --version flag printing the line `coffer
// version` prints.
func setVersionFlag(root *cobra.Command) {
	info := buildinfo.Get()
	root.Version = info.Version
	root.SetVersionTemplate(info.String() + "\n")
}
