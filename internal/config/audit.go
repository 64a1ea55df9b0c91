package config

import (
	"fmt"
	"time"

	"github.com/coffer-dev/coffer/internal/config/envvar"
)

// Audit configures the audit trail (docs/operations.md, "Audit trail";
// docs/configuration.md).
type Audit struct {
	// Reads is which reads are recorded: access (every /access), all
	// (also secret reads and lists) or off (only denied ones).
	Reads string `yaml:"reads"`
	// ReadDurability is async (read events batched, at most FlushInterval
	// of them lost on a crash) or sync (a value is sent only after its
	// event is durable).
	ReadDurability string `yaml:"read_durability"`
	// FlushInterval is the longest an async event waits, a Go duration.
	FlushInterval string `yaml:"flush_interval"`
	// Retention is how long events are kept, a Go duration; "0" keeps
	// them forever.
	Retention string `yaml:"retention"`
	// File, when set, is a file every event is appended to as a JSON line.
	File string `yaml:"file"`
}

// Audit reads modes.
const (
	AuditReadsAccess = "access"
	AuditReadsAll    = "all"
	AuditReadsOff    = "off"
)

func defaultAudit() Audit {
	return Audit{Reads: AuditReadsAccess, ReadDurability: "async", FlushInterval: "10ms", Retention: "2160h"}
}

var auditEnvVars = []envvar.Var[Config]{
	{Name: "COFFER_AUDIT_READS", Set: envvar.String(func(c *Config) *string { return &c.Coffer.Audit.Reads })},
	{Name: "COFFER_AUDIT_READ_DURABILITY", Set: envvar.String(func(c *Config) *string { return &c.Coffer.Audit.ReadDurability })},
	{Name: "COFFER_AUDIT_FLUSH_INTERVAL", Set: envvar.String(func(c *Config) *string { return &c.Coffer.Audit.FlushInterval })},
	{Name: "COFFER_AUDIT_RETENTION", Set: envvar.String(func(c *Config) *string { return &c.Coffer.Audit.Retention })},
	{Name: "COFFER_AUDIT_FILE", Set: envvar.String(func(c *Config) *string { return &c.Coffer.Audit.File })},
}

// SyncReads reports read_durability sync.
func (a Audit) SyncReads() bool { return a.ReadDurability == "sync" }

// FlushEvery is flush_interval parsed (validate has checked it).
func (a Audit) FlushEvery() time.Duration {
	d, _ := time.ParseDuration(a.FlushInterval)
	return d
}

// KeepFor is retention parsed; 0 keeps events forever.
func (a Audit) KeepFor() time.Duration {
	d, _ := time.ParseDuration(a.Retention)
	return d
}

func (a Audit) validate() error {
	switch a.Reads {
	case AuditReadsAccess, AuditReadsAll, AuditReadsOff:
	default:
		return fmt.Errorf("coffer.audit.reads must be access, all or off, got %q", a.Reads)
	}
	if a.ReadDurability != "async" && a.ReadDurability != "sync" {
		return fmt.Errorf("coffer.audit.read_durability must be async or sync, got %q", a.ReadDurability)
	}
	if d, err := time.ParseDuration(a.FlushInterval); err != nil || d <= 0 || d > time.Minute {
		return fmt.Errorf("coffer.audit.flush_interval must be a duration between 1ms and 1m such as 10ms, got %q", a.FlushInterval)
	}
	if d, err := time.ParseDuration(a.Retention); err != nil || d < 0 {
		return fmt.Errorf("coffer.audit.retention must be a duration such as 2160h or 0, got %q", a.Retention)
	}
	return nil
}
