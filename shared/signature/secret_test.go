package signature

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestGenerateSecret(t *testing.T) {
	a, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Errorf("two secrets are equal: %q", a)
	}
	for _, s := range []string{a, b} {
		if got, want := len(s), len("whsec_")+44; got != want {
			t.Errorf("len(%q) = %d, want %d", s, got, want)
		}
		key, err := ParseSecret(s)
		if err != nil {
			t.Fatalf("ParseSecret(GenerateSecret()) = %v", err)
		}
		if got, want := len(key), 32; got != want {
			t.Errorf("key length = %d, want %d", got, want)
		}
		if got, want := SecretPrefix+base64.StdEncoding.EncodeToString(key), s; got != want {
			t.Errorf("re-encoded = %q, want %q", got, want)
		}
	}
}

func TestParseSecret(t *testing.T) {
	b24 := base64.StdEncoding.EncodeToString([]byte("0123456789abcdefghijklmn"))
	tests := []struct {
		name    string
		secret  string
		wantLen int    // when valid
		wantErr string // substring, when invalid
	}{
		{"32 bytes", testSecret, 32, ""},
		{"24 bytes, the minimum", "whsec_" + b24, 24, ""},
		{"empty", "", 0, "empty"},
		{"no prefix", strings.TrimPrefix(testSecret, "whsec_"), 0, "prefix"},
		{"wrong prefix", "whsek_" + strings.TrimPrefix(testSecret, "whsec_"), 0, "prefix"},
		{"prefix only", "whsec_", 0, "0 bytes"},
		{"16 bytes", "whsec_AAECAwQFBgcICQoLDA0ODw==", 0, "16 bytes"},
		{"unpadded", strings.TrimSuffix(testSecret, "="), 0, "base64"},
		{"url alphabet", "whsec_-_-_" + strings.TrimPrefix(testSecret, "whsec_")[4:], 0, "base64"},
		{"not base64", "whsec_this is not base64 at all!!!!!!!!!!!!!!!", 0, "whitespace"},
		{"trailing newline", testSecret + "\n", 0, "whitespace"},
		{"garbage", "whsec_$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$$", 0, "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := ParseSecret(tt.secret)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseSecret = %v, want nil", err)
				}
				if got, want := len(key), tt.wantLen; got != want {
					t.Errorf("len(key) = %d, want %d", got, want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("ParseSecret = %v, want ErrInvalidSecret", err)
			}
			if got := err.Error(); !strings.Contains(got, tt.wantErr) {
				t.Errorf("error %q does not mention %q", got, tt.wantErr)
			}
			assertNoSecret(t, err.Error(), tt.secret)
		})
	}
}

// assertNoSecret fails if msg contains secret or any 8-character piece of
// the part after the prefix.
func assertNoSecret(t *testing.T, msg, secret string) {
	t.Helper()
	body := strings.TrimPrefix(secret, SecretPrefix)
	for i := 0; i+8 <= len(body); i++ {
		if strings.Contains(msg, body[i:i+8]) {
			t.Errorf("message %q leaks part of the secret", msg)
			return
		}
	}
}
