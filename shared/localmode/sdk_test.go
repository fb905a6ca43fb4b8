package localmode

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// TestAWSSDKPutEvents publishes through the unmodified AWS SDK for Go v2
// EventBridge client pointed at local mode.
func TestAWSSDKPutEvents(t *testing.T) {
	s, c := start(t, nil)
	rcv := receiver(t)
	ep := register(t, c, rcv, "call.completed")
	eb := eventbridge.New(eventbridge.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	good := sample(t, "call.completed", "evt_sdk")
	out, err := eb.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String(good.Source), DetailType: aws.String(good.DetailType), Detail: aws.String(good.Detail),
			EventBusName: aws.String("phoneshield"), Time: aws.Time(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC))},
		{Source: aws.String("phoneshield"), DetailType: aws.String("call.completed"), Detail: aws.String(`{"data":{"call_id":7}}`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 1 || aws.ToString(out.Entries[0].EventId) == "" || aws.ToString(out.Entries[1].ErrorCode) != "InvalidArgument" ||
		!strings.Contains(aws.ToString(out.Entries[1].ErrorMessage), "Entries[1].Detail: detail.data.call_id") {
		t.Fatalf("PutEvents = %d failed, entries %+v / %+v", out.FailedEntryCount, out.Entries[0], out.Entries[1])
	}
	ds := waitSettled(t, c, ep.ID, 1, 10*time.Second)
	if ds[0].Status != webhook.DeliveryDelivered {
		t.Fatalf("delivery = %s", summary(ds))
	}
	got, _ := rcv.Get("evt_sdk")
	if !strings.Contains(string(got.Body), `"timestamp":"2026-11-27T08:00:00Z"`) {
		t.Errorf("body = %.200s, want the entry's Time as timestamp", got.Body)
	}
}
