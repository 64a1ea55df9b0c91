package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-dev/coffer/client"
)

// coffer audit list: the audit trail (docs/operations.md, "Audit trail").

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit trail: who did what to which secret, and when",
	}
	s := addClientFlags(cmd, true)
	cmd.AddCommand(auditListCmd(s))
	return cmd
}

// auditFollowInterval is how often --follow asks for newer events.
var auditFollowInterval = 2 * time.Second

func auditListCmd(s *clientSettings) *cobra.Command {
	var q client.AuditQuery
	var all, follow bool
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "list [--workspace W | --all] [--secret N] [--principal P] [--action A] [--outcome O] [--since 24h] [--follow]",
		Short: "List audit events, newest first (with --follow: oldest first, then new ones as they happen)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all && cmd.Flags().Changed("workspace") {
				return usageError("--all and --workspace exclude each other")
			}
			if q.PageSize < 0 || q.PageSize > 1000 {
				return usageError("--page-size must be between 1 and 1000")
			}
			if !all {
				q.Workspace = s.workspace
			}
			if since > 0 {
				q.From = time.Now().Add(-since)
			}
			if follow {
				return followAudit(cmd, s, q)
			}
			res, err := s.client().ListAudit(cmd.Context(), q)
			if err != nil {
				return failed(err)
			}
			if err := render(cmd.OutOrStdout(), s.format, res.Raw, auditTable(res.Data)); err != nil {
				return err
			}
			if res.Pagination.Page < res.Pagination.TotalPages {
				fmt.Fprintln(cmd.ErrOrStderr(), morePagesHint)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "every workspace's events (PlatformAdmin only)")
	f.StringVar(&q.Secret, "secret", "", "only events of the secret `NAME`")
	f.StringVar(&q.Principal, "principal", "", "only events of the principal `ID`")
	f.StringVar(&q.Action, "action", "", "only events of `ACTION` (e.g. secret.access, secret.update, member.add)")
	f.StringVar(&q.Outcome, "outcome", "", "only events with `OUTCOME`: success, denied, not_found, conflict, invalid or error")
	f.DurationVar(&since, "since", 0, "only events of the last `DURATION` (e.g. 24h, 30m)")
	f.IntVar(&q.Page, "page", 1, "page to show")
	f.IntVar(&q.PageSize, "page-size", 0, "events per page (default: the server's)")
	f.BoolVar(&follow, "follow", false, "keep printing new events as they are recorded (polls every 2s; JSON output is one event per line)")
	return cmd
}

// followAudit prints the newest page oldest first, then polls for events
// newer than the last one printed, until interrupted.
func followAudit(cmd *cobra.Command, s *clientSettings, q client.AuditQuery) error {
	c := s.client()
	q.Page, q.PageSize = 1, max(q.PageSize, 100)
	var lastID string
	first := true
	for {
		res, err := c.ListAudit(cmd.Context(), q)
		if err != nil {
			if cmd.Context().Err() != nil {
				return nil
			}
			return failed(err)
		}
		var fresh []client.AuditEvent
		for i := len(res.Data) - 1; i >= 0; i-- { // oldest first
			if e := res.Data[i]; e.ID > lastID {
				fresh = append(fresh, e)
			}
		}
		if err := printFollowed(cmd.OutOrStdout(), s.format, fresh, first); err != nil {
			return err
		}
		first = false
		if n := len(fresh); n > 0 {
			lastID = fresh[n-1].ID
			q.From = fresh[n-1].Time // the next poll starts there; ids drop what was printed
		}
		select {
		case <-cmd.Context().Done():
			return nil
		case <-time.After(auditFollowInterval):
		}
	}
}

// printFollowed prints followed events: JSON (and YAML) as one object per
// line, a table with its header once.
func printFollowed(w io.Writer, format outputFormat, es []client.AuditEvent, header bool) error {
	if format != formatTable {
		for _, e := range es {
			if _, err := fmt.Fprintf(w, "%s\n", compactJSON(e.Raw)); err != nil {
				return err
			}
		}
		return nil
	}
	t := auditTable(es)
	if !header {
		if len(es) == 0 {
			return nil
		}
		t.header, t.rows = t.rows[0], t.rows[1:] // the header was printed with the first rows
	}
	return writeTable(w, t)
}

func compactJSON(raw json.RawMessage) []byte {
	var b []byte
	if out, err := json.Marshal(raw); err == nil {
		b = out
	}
	return b
}

func auditTable(es []client.AuditEvent) table {
	t := table{header: []string{"time", "action", "outcome", "status", "workspace", "secret", "version", "principal", "on_behalf_of", "request_id"}}
	for _, e := range es {
		v := ""
		if e.Version != 0 {
			v = strconv.FormatInt(e.Version, 10)
		}
		t.rows = append(t.rows, []string{e.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), e.Action, e.Outcome,
			strconv.Itoa(e.Status), e.Workspace, e.Secret, v, e.Principal, e.OnBehalfOf, e.RequestID})
	}
	return t
}
