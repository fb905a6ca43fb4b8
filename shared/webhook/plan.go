package webhook

import "slices"

// Plan is a deployment's plan (DESIGN §6). It is a deployment setting, not
// per endpoint.
type Plan struct {
	Name          string   `json:"name"`
	MaxEndpoints  int      `json:"max_endpoints"`
	RatePerMinute int      `json:"requests_per_minute"` // per endpoint
	EventTypes    []string `json:"event_types"`         // nil: every type
	CorePayload   bool     `json:"core_payload_only"`   // data reduced to CoreFields
	CustomFilters bool     `json:"custom_filters"`
}

// The plans of DESIGN §6.
var (
	Standard = Plan{
		Name: "standard", MaxEndpoints: 3, RatePerMinute: 30,
		EventTypes:  []string{"call.received", "call.completed", "voicemail.recorded"},
		CorePayload: true,
	}
	Business   = Plan{Name: "business", MaxEndpoints: 10, RatePerMinute: 100}
	Enterprise = Plan{Name: "enterprise", MaxEndpoints: 50, RatePerMinute: 1000, CustomFilters: true}
)

// Plans lists the plans in ascending order.
var Plans = []Plan{Standard, Business, Enterprise}

// PlanNamed returns the plan called name.
func PlanNamed(name string) (Plan, error) {
	for _, p := range Plans {
		if p.Name == name {
			return p, nil
		}
	}
	return Plan{}, Invalid("plan", "unknown plan %q (want standard, business or enterprise)", name)
}

// Allows reports whether events of eventType may be delivered on the plan.
func (p Plan) Allows(eventType string) bool {
	return p.EventTypes == nil || slices.Contains(p.EventTypes, eventType)
}

// CoreFields are the data fields the standard plan delivers: the call's
// identity, parties, timing and outcome. Everything else — summary, topics,
// sentiment, urgency, transcript, URLs, metadata and any field not listed —
// is left out. An allow-list, so a field added to an event later is not
// leaked to standard plans by default.
var CoreFields = []string{
	"call_id", "voicemail_id", "phone_number", "caller_number", "caller_name",
	"call_start", "call_end", "recorded_at", "duration_seconds",
	"direction", "status", "ai_handled", "forwarded",
}

// IsCoreField reports whether name is one of CoreFields.
func IsCoreField(name string) bool { return slices.Contains(CoreFields, name) }
