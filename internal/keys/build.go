package keys

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"slices"

	"github.com/coffer-dev/coffer/internal/envelope"
)

// DevKeyOptions are the settings outside `secrets.encryption` that decide
// whether and where the development key is used (docs/crypto.md §6).
type DevKeyOptions struct {
	// Path is secrets.local_key_creation_path, already defaulted to
	// <data_dir>/nmp-encryption-key.txt by the caller.
	Path string
	// AllowKeyCreation is secrets.allow_key_creation; nil means unset, which
	// differs from an explicit false.
	AllowKeyCreation *bool
	// PostgreSQL is true when the database is a (shared) PostgreSQL one.
	PostgreSQL bool
}

// Build validates the encryption configuration, builds every provider and
// returns the keyring the whole process shares. It implements the selection
// table of docs/crypto.md §6 and stops at the first problem with a message of
// docs/crypto.md §6.
func Build(cfg EncryptionConfig, dev DevKeyOptions, log *slog.Logger, opts ...Option) (*envelope.Keyring, error) {
	log = orDiscard(log)
	skNames := slices.Sorted(maps.Keys(cfg.Providers.SecretKey))
	vaultNames := slices.Sorted(maps.Keys(cfg.Providers.Vault))
	if slices.Contains(skNames, "") {
		return nil, errEmptyName("secret_key")
	}
	if slices.Contains(vaultNames, "") {
		return nil, errEmptyName("vault")
	}
	for _, n := range skNames {
		if _, dup := cfg.Providers.Vault[n]; dup {
			return nil, startupError("secrets.encryption.providers: Duplicate encryptor name found: " + n)
		}
	}
	configured := slices.Sorted(slices.Values(append(slices.Clone(skNames), vaultNames...)))

	// Decide before touching any key source, so a plain configuration
	// mistake is reported as such rather than as a missing key.
	current := cfg.CurrentProvider
	allow := dev.AllowKeyCreation
	var devMode, devCurrent bool
	switch {
	case current == "" && len(configured) == 0:
		if allow != nil && !*allow {
			return nil, startupError("no encryption provider is configured and secrets.allow_key_creation is false; configure secrets.encryption")
		}
		if dev.PostgreSQL {
			return nil, startupError("no encryption provider is configured; the development key cannot be used with a shared PostgreSQL database")
		}
		devMode, devCurrent = true, true
	case current == "":
		if allow == nil || !*allow {
			return nil, startupError("secrets.encryption.current_provider is empty; set it to one of: " +
				envelope.JoinNames(configured))
		}
		devCurrent = true
	case !slices.Contains(configured, current):
		return nil, startupError("secrets.encryption.current_provider: no provider named '" + current +
			"' (configured: " + envelope.JoinNames(configured) + ")")
	}

	ps := make([]envelope.Provider, 0, len(configured)+1)
	built := false
	defer func() {
		if !built { // a later provider failed: stop the earlier ones' goroutines
			closeProviders(ps)
		}
	}()
	for _, n := range skNames {
		p, err := ResolveSecretKey(n, cfg.Providers.SecretKey[n], log)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	for _, n := range vaultNames {
		p, err := buildVault(n, cfg.Providers.Vault[n], log, opts...)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}

	switch {
	case devCurrent:
		// Only development mode may create the file: with providers
		// configured, a missing file means a misconfigured path, and a fresh
		// key would silently make every existing record unreadable.
		k, err := LoadOrCreateDevKey(dev.Path, devMode, log)
		if err != nil {
			return nil, err
		}
		ps = append(ps, k)
	case dev.Path != "":
		// Kept read-only so records still on the development key stay
		// readable and can be rotated away.
		if _, err := os.Lstat(dev.Path); !errors.Is(err, fs.ErrNotExist) {
			k, err := LoadOrCreateDevKey(dev.Path, false, log)
			if err != nil {
				return nil, err
			}
			ps = append(ps, k)
		}
	}

	kr, err := envelope.NewKeyring(current, ps...)
	if err != nil {
		return nil, err
	}
	built = true
	if devCurrent {
		log.Warn(DevKeyWarning(dev.Path))
	}
	log.Info("encryption providers ready", "current_provider", current, "providers", kr.Names())
	return kr, nil
}

// closeProviders closes the providers that hold background work.
func closeProviders(ps []envelope.Provider) {
	for _, p := range ps {
		if c, ok := p.(io.Closer); ok {
			c.Close()
		}
	}
}

// DevKeyWarning is the line Build logs at WARN whenever the development key
// is current (docs/crypto.md §6). Operators grep for it, so it never changes.
func DevKeyWarning(path string) string {
	return "DEVELOPMENT KEY IN USE: secret values are encrypted with a key stored at " + path +
		", next to the data. Anyone who can read that file can decrypt every secret. Configure secrets.encryption.providers and current_provider for production."
}

func errEmptyName(kind string) error {
	return startupError("secrets.encryption.providers." + kind +
		`: provider name must not be empty ("" is the development key)`)
}
