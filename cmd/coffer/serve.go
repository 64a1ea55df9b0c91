package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/internal/config"
	"github.com/coffer-dev/coffer/internal/server"
)

// shutdownGrace is how long in-flight requests may take after SIGTERM/SIGINT.
const shutdownGrace = 15 * time.Second

func newServeCmd() *cobra.Command {
	var flags config.Flags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Coffer secrets service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), flags)
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.ConfigFile, "config", "", "configuration file (default $NMP_CONFIG_FILE_PATH, else /etc/nmp/config.yaml if present)")
	f.StringVar(&flags.Listen, "listen", "", "listen address (default 127.0.0.1:8080)")
	f.StringVar(&flags.DataDir, "data-dir", "", "data directory (default $NMP_DATA_DIR, $XDG_DATA_HOME/coffer or ~/.local/share/coffer)")
	return cmd
}

// serve runs until SIGTERM/SIGINT; startup errors exit with status 1.
func serve(ctx context.Context, flags config.Flags) error {
	cfg, err := config.Load(flags, os.LookupEnv)
	if err != nil {
		return &exitError{code: 1, msg: "coffer: " + err.Error()}
	}
	logs := server.NewLogBuffer(os.Stderr) // batches the per-access audit lines
	defer logs.Close()
	log := server.NewLogger(cfg.Coffer.Log, logs)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := server.New(ctx, cfg, log, os.LookupEnv)
	if err != nil {
		return &exitError{code: 1, msg: "coffer: " + err.Error()}
	}
	ln, err := srv.Listen()
	if err != nil {
		srv.Shutdown(context.Background())
		return &exitError{code: 1, msg: "coffer: " + err.Error()}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
		srv.Shutdown(context.Background())
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", shutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown", "error", err.Error())
	}
	<-errc
	log.Info("stopped")
	return nil
}
