package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// The platform's job variables, read by coffer run so that it can stand in
// for the jobs launcher (docs/cli.md, "coffer run").
const (
	envJobSecrets = "NEMO_JOB_SECRETS" // ENV=workspace/name,…
	envSecretsURL = "NMP_SECRETS_URL"  // the secrets service, before NMP_BASE_URL
	envPrincipal  = "NMP_PRINCIPAL"    // {"id": …}: the user the job runs for
)

// secretRef is one variable to set from a secret.
type secretRef struct {
	env, workspace, name string
	// from says where the reference was given, for messages.
	from string
}

func (r secretRef) String() string { return r.env + "=" + r.workspace + "/" + r.name }

func newRunCmd() *cobra.Command {
	s := &clientSettings{format: formatTable}
	var refs []string
	var envFiles []string
	var service string
	cmd := &cobra.Command{
		Use:   "run [--secret ENV=[WORKSPACE/]NAME]... [--env-file FILE]... [--service NAME] -- COMMAND [ARGS...]",
		Short: "Run a command with secret values in its environment",
		Long: "Read the secrets through /access and run COMMAND with them added to its environment. " +
			"The references come from " + envJobSecrets + " (ENV=workspace/name,…), then --env-file files " +
			"(ENV=[workspace/]name lines), then --secret flags; a later one for the same ENV wins. " +
			"The service is --base-url, else " + envSecretsURL + ", else NMP_BASE_URL. Requests are made as " +
			"X-NMP-Principal-Id: service:<--service> and, when " + envPrincipal + " is set, " +
			"X-NMP-Principal-On-Behalf-Of: <its id>. If any secret cannot be read, nothing is run (exit status 1). " +
			"COMMAND replaces coffer (same process), so its signals and exit status are its own.",
		Args: cobra.MinimumNArgs(1),
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			// Flags end at COMMAND (SetInterspersed(false)), so "--" is
			// optional; it is the clear way to write it.
			if !cmd.Flags().Changed("base-url") {
				if u := os.Getenv(envSecretsURL); u != "" {
					s.baseURL = u
				}
			}
			if err := s.prepare(); err != nil {
				return err
			}
			s.headers = map[string]string{"X-NMP-Principal-Id": "service:" + service}
			if raw := os.Getenv(envPrincipal); raw != "" {
				var p struct {
					ID string `json:"id"`
				}
				if json.Unmarshal([]byte(raw), &p) != nil || p.ID == "" {
					return usageError(envPrincipal + ` must be JSON with a non-empty "id", e.g. {"id":"alice@example.com"}`)
				}
				s.headers["X-NMP-Principal-On-Behalf-Of"] = p.ID
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			all, err := collectRefs(os.Getenv(envJobSecrets), envFiles, refs, s.workspace)
			if err != nil {
				return err
			}
			path, err := exec.LookPath(args[0])
			if err != nil {
				return &exitError{code: 127, msg: "coffer run: " + err.Error()}
			}
			env, err := fetchEnv(cmd, s, all)
			if err != nil {
				return err
			}
			// Exec rather than a child process: the command keeps coffer's
			// process id, gets every signal sent to it directly, and its
			// exit status is the process's.
			err = syscall.Exec(path, args, withVars(os.Environ(), env))
			return &exitError{code: 126, msg: "coffer run: " + args[0] + ": " + err.Error()}
		},
	}
	f := cmd.Flags()
	s.registerConnection(f.StringVar)
	f.StringVar(&s.workspace, "workspace", envOr("NMP_WORKSPACE", defaultWorkspace), "workspace of references without one (env NMP_WORKSPACE)")
	f.StringArrayVar(&refs, "secret", nil, "set `ENV=[WORKSPACE/]NAME`: the variable ENV to the value of the secret; repeat for several")
	f.StringArrayVar(&envFiles, "env-file", nil, "read ENV=[WORKSPACE/]NAME references from a dotenv `FILE`; repeat for several")
	f.StringVar(&service, "service", "jobs", "the service identity of the requests (X-NMP-Principal-Id: service:NAME)")
	f.SetInterspersed(false) // flags after COMMAND belong to COMMAND
	return cmd
}

// withVars is environ with vars (KEY=value) set: an existing entry for a key
// is dropped rather than left before the new one, because exec does not
// remove duplicates and C's getenv returns the first.
func withVars(environ, vars []string) []string {
	set := map[string]bool{}
	for _, kv := range vars {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := make([]string, 0, len(environ)+len(vars))
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out, kv)
		}
	}
	return append(out, vars...)
}

// collectRefs gathers the references in precedence order; a later one for
// the same variable replaces an earlier one.
func collectRefs(jobSecrets string, envFiles, flags []string, workspace string) ([]secretRef, error) {
	var out []secretRef
	index := map[string]int{}
	add := func(env, ref, from string) error {
		r, err := parseRef(env, ref, workspace, from)
		if err != nil {
			return err
		}
		if i, ok := index[r.env]; ok {
			out[i] = r
			return nil
		}
		index[r.env] = len(out)
		out = append(out, r)
		return nil
	}
	for item := range strings.SplitSeq(jobSecrets, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		env, ref, _ := strings.Cut(item, "=")
		if err := add(env, ref, envJobSecrets); err != nil {
			return nil, err
		}
	}
	for _, path := range envFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usageError("coffer run: --env-file: " + err.Error())
		}
		entries, err := parseDotenv(string(b))
		if err != nil {
			return nil, usageError("coffer run: --env-file " + path + ": " + err.Error())
		}
		for _, e := range entries {
			if err := add(e.key, e.value, fmt.Sprintf("--env-file %s line %d", path, e.line)); err != nil {
				return nil, err
			}
		}
	}
	for _, item := range flags {
		env, ref, _ := strings.Cut(item, "=")
		if err := add(env, ref, "--secret"); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, usageError("coffer run: no secrets to read: give --secret ENV=workspace/name, --env-file FILE or " + envJobSecrets)
	}
	return out, nil
}

// parseRef reads "[workspace/]name" for the variable env. A reference is a
// name, never a value, so it may be quoted in messages.
func parseRef(env, ref, workspace, from string) (secretRef, error) {
	r := secretRef{env: env, workspace: workspace, name: ref, from: from}
	if ws, name, ok := strings.Cut(ref, "/"); ok {
		r.workspace, r.name = ws, name
	}
	if !validEnvKey(env) || r.workspace == "" || r.name == "" || strings.Contains(r.name, "/") {
		return r, usageError(fmt.Sprintf("coffer run: %s: %q is not ENV=[WORKSPACE/]NAME (ENV: letters, digits and '_')", from, env+"="+ref))
	}
	return r, nil
}

// fetchEnv reads every referenced value and returns ENV=value strings. On
// any failure it returns an error that names each reference that failed,
// and nothing is run.
func fetchEnv(cmd *cobra.Command, s *clientSettings, refs []secretRef) ([]string, error) {
	c := s.client()
	env := make([]string, 0, len(refs))
	var problems []string
	for _, r := range refs {
		v, err := c.AccessSecret(cmd.Context(), r.workspace, r.name)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("coffer run: cannot read %s (from %s): %v", r, r.from, err))
		case strings.ContainsRune(v.Value, 0):
			problems = append(problems, fmt.Sprintf("coffer run: cannot set %s: %v", r, errNUL))
		default:
			env = append(env, r.env+"="+v.Value)
		}
	}
	if len(problems) > 0 {
		return nil, &exitError{code: 1, msg: strings.Join(problems, "\n") + "\ncoffer run: the command was not started"}
	}
	return env, nil
}
