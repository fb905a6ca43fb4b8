package apiclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigV4 signs requests with AWS Signature Version 4, as API Gateway's IAM
// authorization wants them.
type SigV4 struct {
	Credentials aws.CredentialsProvider
	Region      string
	Service     string           // default "execute-api"
	Now         func() time.Time // default time.Now

	once   sync.Once
	signer *v4.Signer
}

// ExecuteAPI is the SigV4 service name of API Gateway.
const ExecuteAPI = "execute-api"

// Sign implements Signer: it adds X-Amz-Date, X-Amz-Security-Token (for
// temporary credentials) and Authorization.
func (s *SigV4) Sign(ctx context.Context, req *http.Request, body []byte) error {
	creds, err := s.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	s.once.Do(func() { s.signer = v4.NewSigner() })
	sum := sha256.Sum256(body)
	service := s.Service
	if service == "" {
		service = ExecuteAPI
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return s.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, s.Region, now())
}
