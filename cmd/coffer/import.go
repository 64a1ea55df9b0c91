package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/nmpimport"
	"github.com/coffer-dev/coffer/internal/secrets"
	"github.com/coffer-dev/coffer/internal/server"
)

func newImportCmd() *cobra.Command {
	var flags config.Flags
	var opts secrets.ImportOptions
	cmd := &cobra.Command{
		Use:   "import [--config PATH] [--replace] [--dry-run] FILE|-",
		Short: "Import secrets exported from NeMo Platform (platform_secret entity records, JSON Lines)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(cmd.Context(), flags, opts, args[0], cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.ConfigFile, "config", "", "configuration file, as for coffer serve")
	f.StringVar(&flags.DataDir, "data-dir", "", "data directory, as for coffer serve")
	f.BoolVar(&opts.Replace, "replace", false, "overwrite secrets that already exist")
	f.BoolVar(&opts.DryRun, "dry-run", false, "verify and report without writing")
	return cmd
}

// runImport imports every record of path ("-" = stdin) and prints one line
// per skipped or failed record, then the counts. Exit status 1 when any
// record failed.
func runImport(ctx context.Context, flags config.Flags, opts secrets.ImportOptions, path string, out io.Writer) error {
	cfg, err := config.Load(flags, os.LookupEnv)
	if err != nil {
		return &exitError{code: 1, msg: "coffer: " + err.Error()}
	}
	in, err := openInput(path)
	if err != nil {
		return &exitError{code: 1, msg: "coffer import: " + err.Error()}
	}
	defer in.Close()
	log := server.NewLogger(cfg.Coffer.Log, os.Stderr)
	svc, closeStore, err := server.OpenService(ctx, cfg, log, os.LookupEnv)
	if err != nil {
		return &exitError{code: 1, msg: "coffer: " + err.Error()}
	}
	defer closeStore()
	var counts [3]int
	err = nmpimport.Read(in, secrets.Now(), func(e nmpimport.Entry) error {
		if e.Ignored != "" {
			return nil
		}
		outcome, reason := secrets.Failed, e.Err
		if reason == "" {
			var err error
			if outcome, reason, err = svc.Import(ctx, e.Record, opts); err != nil {
				return err
			}
		}
		counts[outcome]++
		if outcome != secrets.Imported {
			fmt.Fprintf(out, "%s/%s: %s\n", e.Record.Workspace, e.Record.Name, reason)
		}
		return nil
	})
	fmt.Fprintf(out, "imported %d, skipped %d, failed %d\n", counts[secrets.Imported], counts[secrets.Skipped], counts[secrets.Failed])
	if err != nil {
		return &exitError{code: 1, msg: "coffer import: " + err.Error()}
	}
	if counts[secrets.Failed] > 0 {
		return &exitError{code: 1}
	}
	return nil
}

func openInput(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	return os.Open(path)
}
