package keys

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// devKeyKey is the configuration key every development-key message names.
const devKeyKey = "secrets.local_key_creation_path"

// errDevKeyMissing is internal: the caller decides whether a missing file is
// created or reported.
var errDevKeyMissing = errors.New("development key file does not exist")

// LoadOrCreateDevKey returns the development key (a secret_key provider
// named "") stored at path. A missing file is created when create is true
// (docs/crypto.md §6), otherwise it is an error. Concurrent callers, in this
// process or others, all end up with the same key: the file is put in place
// with an operation that fails if the target exists, and losers load the
// winner's key.
func LoadOrCreateDevKey(path string, create bool, log *slog.Logger) (*SecretKey, error) {
	log = orDiscard(log)
	if path == "" {
		return nil, startupError(devKeyKey + ": not set")
	}
	k, err := loadDevKey(path, log)
	if !errors.Is(err, errDevKeyMissing) {
		return k, err
	}
	if !create {
		return nil, startupError(devKeyKey + ": " + path +
			" does not exist; the development key is only created when no provider is configured")
	}
	return createDevKey(path, log)
}

func loadDevKey(path string, log *slog.Logger) (*SecretKey, error) {
	text, err := readKeyFile(path, devKeyKey, log)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errDevKeyMissing
	}
	if err != nil {
		return nil, err
	}
	defer clear(text)
	key, err := decodeKey(devKeyKey, text)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return NewSecretKey("", key)
}

// createDevKey writes a new key with the steps of docs/crypto.md §6. The
// temporary file is complete and synced before it becomes visible under
// path, so no reader ever sees a partial key, and a crash leaves at worst a
// stray temporary file, never a truncated key.
func createDevKey(path string, log *slog.Logger) (*SecretKey, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, cannotCreate(path, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, cannotCreate(path, err)
	}
	defer clear(key)
	text := make([]byte, base64.StdEncoding.EncodedLen(len(key)))
	base64.StdEncoding.Encode(text, key)
	defer clear(text)

	tmp, err := writeTemp(dir, filepath.Base(path), text)
	if err != nil {
		return nil, cannotCreate(path, err)
	}
	err = os.Link(tmp, path)
	_ = os.Remove(tmp)
	if errors.Is(err, fs.ErrExist) {
		log.Info("development key was created concurrently by another process; using it", "path", path)
		k, err := loadDevKey(path, log)
		if errors.Is(err, errDevKeyMissing) {
			// The name exists but does not resolve: a dangling symbolic link.
			return nil, cannotCreate(path, errors.New("the path exists but cannot be opened (dangling symbolic link?)"))
		}
		return k, err
	}
	if err != nil {
		return nil, cannotCreate(path, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, cannotCreate(path, err)
	}
	log.Info("created a new development key", "path", path)
	return NewSecretKey("", key)
}

// writeTemp writes data to a new file next to the target, opened with
// O_EXCL so that it is never a file someone else prepared.
func writeTemp(dir, base string, data []byte) (string, error) {
	var suffix [8]byte
	for range 10 {
		if _, err := rand.Read(suffix[:]); err != nil {
			return "", err
		}
		name := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(suffix[:]))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(name)
			return "", err
		}
		return name, nil
	}
	return "", fs.ErrExist
}

// syncDir makes the new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func cannotCreate(path string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return startupError(devKeyKey + ": cannot create " + path + ": " + err.Error())
}
