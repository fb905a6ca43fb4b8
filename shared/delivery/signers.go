package delivery

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phoneshield/webhooks/shared/signature"
	"github.com/phoneshield/webhooks/shared/webhook"
)

// signerCache keeps a signature.Signer per endpoint for the secrets it
// signs with, so an attempt doesn't decode the secrets and key fresh HMACs
// (the Signer's pools of keyed HMACs only pay off when it is reused). An
// entry is used only while the endpoint's secrets at the time of the
// attempt are exactly the ones it was built for, so a rotation, or the end
// of a previous secret's overlap window, takes effect at once.
type signerCache struct {
	m sync.Map // endpoint id → *signerEntry
	n atomic.Int64
}

type signerEntry struct {
	secrets []webhook.Secret
	signer  *signature.Signer
}

// maxSigners bounds the cache; past it the cache starts over.
const maxSigners = 4096

// get returns the Signer for ep's secrets at now.
func (c *signerCache) get(ep *webhook.Endpoint, now time.Time) (*signature.Signer, error) {
	secrets := ep.Secrets(now)
	if e, ok := c.m.Load(ep.ID); ok && slices.Equal(e.(*signerEntry).secrets, secrets) {
		return e.(*signerEntry).signer, nil
	}
	strs := make([]string, len(secrets))
	for i, s := range secrets {
		strs[i] = string(s)
	}
	s, err := signature.NewSigner(strs...)
	if err != nil {
		return nil, err
	}
	if c.n.Add(1) > maxSigners {
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(ep.ID, &signerEntry{secrets: secrets, signer: s})
	return s, nil
}
