package signature

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretPrefix starts every PhoneShield signing secret.
const SecretPrefix = "whsec_"

// MinSecretBytes is the least number of random bytes a secret may hold
// once its base64 part is decoded.
const MinSecretBytes = 24

// secretBytes is how many random bytes GenerateSecret draws.
const secretBytes = 32

// ErrInvalidSecret reports a secret that is empty or not
// "whsec_" + standard padded base64 of at least MinSecretBytes bytes.
// Errors wrapping it never include the secret.
var ErrInvalidSecret = errors.New("invalid webhook secret")

// GenerateSecret returns a new secret: "whsec_" followed by the standard,
// padded base64 encoding of 32 bytes from crypto/rand.
func GenerateSecret() (string, error) {
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:]), nil
}

// ParseSecret validates s and returns the key it stands for: the decoded
// bytes after "whsec_", which key the Standard Webhooks signature. The
// base64 must be standard and padded, with no whitespace; the key must be
// at least MinSecretBytes long. The error wraps ErrInvalidSecret and never
// contains s or any part of it.
func ParseSecret(s string) ([]byte, error) {
	enc, ok := strings.CutPrefix(s, SecretPrefix)
	switch {
	case s == "":
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	case !ok:
		return nil, fmt.Errorf("%w: missing %q prefix", ErrInvalidSecret, SecretPrefix)
	case strings.ContainsAny(enc, " \t\r\n"):
		// StdEncoding would silently skip CR and LF; a pasted secret with
		// stray whitespace is better reported than half-accepted.
		return nil, fmt.Errorf("%w: contains whitespace", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil {
		// Deliberately not wrapping err: keep the message free of secret data.
		return nil, fmt.Errorf("%w: the part after %q is not standard padded base64", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) < MinSecretBytes {
		return nil, fmt.Errorf("%w: decodes to %d bytes, want at least %d", ErrInvalidSecret, len(key), MinSecretBytes)
	}
	return key, nil
}

// parseSecrets parses every secret; at least one is required.
func parseSecrets(secrets []string) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secrets configured", ErrInvalidSecret)
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := ParseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i, err)
		}
		keys[i] = k
	}
	return keys, nil
}
