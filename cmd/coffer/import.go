package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"sync"

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
	p := importProgress(in)
	counts, err := importAll(ctx, svc, opts, p.in, out, p.progress)
	p.finish()
	fmt.Fprintf(out, "imported %d, skipped %d, failed %d\n", counts[secrets.Imported], counts[secrets.Skipped], counts[secrets.Failed])
	if err != nil {
		return &exitError{code: 1, msg: "coffer import: " + err.Error()}
	}
	if counts[secrets.Failed] > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// importWorkers records are imported at once, so that SQLite's committer
// (or PostgreSQL's group flush) commits many per fsync: one at a time, an
// import is bound by one fsync per record.
const importWorkers = 16

// importResult is the outcome of one record.
type importResult struct {
	e       nmpimport.Entry
	outcome secrets.ImportOutcome
	reason  string
	err     error
}

// importAll imports every record of in with importWorkers workers and
// reports the skipped and failed ones in input order. Records with the same
// workspace and name go to the same worker, so they are stored in input
// order (with --replace the last one wins, as when importing one by one). A
// database error stops the import; records after it may have been stored,
// which re-running (skipping stored records) tolerates. prog counts the
// records done.
func importAll(ctx context.Context, svc *secrets.Service, opts secrets.ImportOptions, in io.Reader, out io.Writer, prog *progress) ([3]int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p := startImportPool(ctx, svc, opts)
	defer p.workers.Wait()
	ordered := make(chan chan importResult, 1024)
	go p.feed(in, ordered)
	var counts [3]int
	for done := range ordered {
		r := <-done
		if r.err != nil {
			cancel(r.err)
			return counts, r.err
		}
		counts[r.outcome]++
		if r.outcome != secrets.Imported {
			prog.clear() // the report line replaces the progress line on a terminal
			fmt.Fprintf(out, "%s/%s: %s\n", r.e.Record.Workspace, r.e.Record.Name, r.reason)
		}
		prog.add(1)
	}
	return counts, nil
}

// importPool runs svc.Import for queued records on importWorkers workers,
// each taking its queue in order.
type importPool struct {
	ctx     context.Context
	svc     *secrets.Service
	opts    secrets.ImportOptions
	queues  []chan func()
	workers sync.WaitGroup
}

func startImportPool(ctx context.Context, svc *secrets.Service, opts secrets.ImportOptions) *importPool {
	p := &importPool{ctx: ctx, svc: svc, opts: opts, queues: make([]chan func(), importWorkers)}
	for i := range p.queues {
		p.queues[i] = make(chan func(), 16)
		p.workers.Go(func() {
			for job := range p.queues[i] {
				job()
			}
		})
	}
	return p
}

// feed reads in and sends, in input order, one channel per record on
// ordered that receives the record's result. A read error comes last, as a
// result. It closes the queues and ordered when in is read or ctx ends.
func (p *importPool) feed(in io.Reader, ordered chan<- chan importResult) {
	defer close(ordered)
	defer func() {
		for _, q := range p.queues {
			close(q)
		}
	}()
	err := nmpimport.Read(in, secrets.Now(), func(e nmpimport.Entry) error {
		if e.Ignored != "" {
			return nil
		}
		done, ok := p.submit(e)
		if !ok || !send(p.ctx, ordered, done) {
			return context.Cause(p.ctx)
		}
		return nil
	})
	if err != nil {
		done := make(chan importResult, 1)
		done <- importResult{err: err}
		send(p.ctx, ordered, done)
	}
}

// submit queues e on its worker and returns the channel of its result; a
// record that could not be read fails without a worker.
func (p *importPool) submit(e nmpimport.Entry) (chan importResult, bool) {
	done := make(chan importResult, 1)
	if e.Err != "" {
		done <- importResult{e: e, outcome: secrets.Failed, reason: e.Err}
		return done, true
	}
	return done, send(p.ctx, p.queues[workerOf(e.Record)], func() {
		r := importResult{e: e}
		r.outcome, r.reason, r.err = p.svc.Import(p.ctx, e.Record, p.opts)
		done <- r
	})
}

// workerOf picks the worker of a record by its workspace and name.
func workerOf(r secrets.Record) int {
	h := fnv.New32a()
	h.Write([]byte(r.Workspace + "/" + r.Name))
	return int(h.Sum32() % importWorkers)
}

// send sends v on ch unless ctx ends first.
func send[T any](ctx context.Context, ch chan<- T, v T) bool {
	select {
	case ch <- v:
		return true
	case <-ctx.Done():
		return false
	}
}

// readProgress is a progress line over an input read through in: the
// records done, and the share of the input read when its size is known.
type readProgress struct {
	*progress
	in io.Reader
}

// importProgress shows, on a terminal stderr, the records imported and the
// share of the file read (records are read a little ahead of their import).
func importProgress(in io.Reader) readProgress {
	cr := &countingReader{r: in}
	var fraction func() float64
	if f, ok := in.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode().IsRegular() && info.Size() > 0 {
			fraction = func() float64 { return float64(cr.n.Load()) / float64(info.Size()) }
		}
	}
	return readProgress{newProgress(os.Stderr, "import", 0, fraction), cr}
}

func openInput(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	return os.Open(path)
}
