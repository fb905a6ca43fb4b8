package jsjsontest

import (
	"fmt"
	"strings"
)

// SeedData is the data object of the seed guide's call.completed example,
// compacted.
const SeedData = `{"call_id":"call_9876543210","phone_number":"+15551234567","caller_number":"+15559876543","caller_name":"John Smith","call_start":"2025-04-30T15:21:32Z","call_end":"2025-04-30T15:23:47Z","duration_seconds":135,"direction":"inbound","status":"completed","ai_handled":true,"forwarded":false,"summary":"John called about his recent order #12345 which hasn't arrived yet. The AI confirmed the order is in transit and provided the tracking number.","topics":["order status","shipping","tracking"],"sentiment":"neutral","urgency":"medium","transcription_url":"https://api.phoneshield.ai/v1/calls/call_9876543210/transcript","recording_url":"https://api.phoneshield.ai/v1/calls/call_9876543210/recording","metadata":{"customer_id":"cust_987654","account_type":"premium","source":"website"}}`

var lines = []string{
	`AI: Hello, you've reached Acme Outfitters. This is the PhoneShield assistant — how can I help?`,
	`Caller: Hi, I ordered a jacket last week, order #12345, and it still hasn't arrived.`,
	`AI: I'm sorry to hear that. Let me look it up… Your order shipped on April 26th and is "in transit".`,
	`Caller: Do you have a tracking number? I'd like a quote for express shipping next time, too.`,
	`AI: Of course: 1Z999AA10123456784. Express pricing is $12.50 for orders under 5 kg.`,
	`Caller: Great, thanks — that's all. Merci & bonne journée!`,
}

// CallCompleted returns the data of a realistic call.completed event of
// about size bytes (at least the seed's ~900): the seed's fields plus a
// transcript and, past 4 KB, a segments array with per-utterance timings.
func CallCompleted(size int) []byte {
	var b strings.Builder
	b.WriteString(SeedData[:len(SeedData)-1])
	b.WriteString(`,"transcript":"`)
	budget := size - len(SeedData) - 40
	textBudget := budget
	if size > 4096 {
		textBudget = budget / 3
	}
	for i, n := 0, 0; n < textBudget; i++ {
		l := strings.ReplaceAll(lines[i%len(lines)], `"`, `\"`) + `\n`
		b.WriteString(l)
		n += len(l)
	}
	b.WriteString(`"`)
	if size > 4096 {
		b.WriteString(`,"segments":[`)
		start := b.Len()
		for i := 0; b.Len()-start < budget-textBudget; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			l := lines[i%len(lines)]
			speaker, text, _ := strings.Cut(l, ": ")
			fmt.Fprintf(&b, `{"speaker":%q,"start":%.2f,"end":%.2f,"confidence":0.%d,"text":%q}`,
				strings.ToLower(speaker), float64(i)*4.25, float64(i)*4.25+3.8, 80+i%20, text)
		}
		b.WriteString(`]`)
	}
	b.WriteString(`}`)
	return []byte(b.String())
}
