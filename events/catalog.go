package events

import (
	"slices"
	"strings"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// Kind is the JSON kind a data field must have.
type Kind string

// The kinds. KindInteger is a JSON number with an integral value (135 or
// 135.0, not 135.5).
const (
	KindString  Kind = "string"
	KindNumber  Kind = "number"
	KindInteger Kind = "integer"
	KindBoolean Kind = "boolean"
	KindArray   Kind = "array"
	KindObject  Kind = "object"
)

// Format narrows a string field's values.
type Format string

// The formats. The zero Format means any string.
const (
	FormatNone     Format = ""
	FormatE164     Format = "e164"      // a phone number in E.164: "+" then 2..15 digits, the first not 0
	FormatDateTime Format = "date-time" // an RFC 3339 timestamp, e.g. 2025-04-30T15:21:32Z
	FormatURL      Format = "url"       // an absolute http or https URL
	FormatEmail    Format = "email"     // local@domain.tld, no spaces
)

// Field is one declared field of an event's data object.
type Field struct {
	Name   string
	Kind   Kind
	Format Format   // for strings; "" for none
	Enum   []string // for strings: the allowed values; nil for any
	Elem   Kind     // for arrays: the kind of every element; "" for any
}

// Type is one event type of the catalog (DESIGN §3).
type Type struct {
	Name        string // e.g. "call.completed"
	Group       string // e.g. "call"
	Description string
	// Required fields must be present in data, with the declared kind and
	// format; null does not count as present.
	Required []Field
	// Optional fields may be absent or null; when present they are checked
	// like required ones. Fields declared nowhere are allowed and kept.
	Optional []Field
}

// Field returns the declared field called name, required or optional.
func (t Type) Field(name string) (Field, bool) {
	for _, fs := range [][]Field{t.Required, t.Optional} {
		for _, f := range fs {
			if f.Name == name {
				return f.clone(), true
			}
		}
	}
	return Field{}, false
}

func (f Field) clone() Field {
	f.Enum = slices.Clone(f.Enum)
	return f
}

func (t Type) clone() Type {
	t.Required = cloneFields(t.Required)
	t.Optional = cloneFields(t.Optional)
	return t
}

func cloneFields(fs []Field) []Field {
	if fs == nil {
		return nil
	}
	out := make([]Field, len(fs))
	for i, f := range fs {
		out[i] = f.clone()
	}
	return out
}

// Enumerations shared by several types.
var (
	directions  = []string{"inbound", "outbound"}
	sentiments  = []string{"positive", "neutral", "negative", "mixed"}
	urgencies   = []string{"low", "medium", "high"}
	severities  = []string{"info", "warning", "error", "critical"}
	plans       = []string{"standard", "business", "enterprise"}
	sysStatuses = []string{"operational", "degraded", "partial_outage", "major_outage", "maintenance"}
	mntStatuses = []string{"scheduled", "in_progress", "completed", "cancelled"}
)

// Field constructors, to keep the catalog readable.
func str(name string) Field               { return Field{Name: name, Kind: KindString} }
func phone(name string) Field             { return Field{Name: name, Kind: KindString, Format: FormatE164} }
func stamp(name string) Field             { return Field{Name: name, Kind: KindString, Format: FormatDateTime} }
func link(name string) Field              { return Field{Name: name, Kind: KindString, Format: FormatURL} }
func enum(name string, vs []string) Field { return Field{Name: name, Kind: KindString, Enum: vs} }
func num(name string) Field               { return Field{Name: name, Kind: KindNumber} }
func integer(name string) Field           { return Field{Name: name, Kind: KindInteger} }
func boolean(name string) Field           { return Field{Name: name, Kind: KindBoolean} }
func object(name string) Field            { return Field{Name: name, Kind: KindObject} }
func array(name string, elem Kind) Field  { return Field{Name: name, Kind: KindArray, Elem: elem} }
func fields(fs ...Field) []Field          { return fs }
func join(parts ...[]Field) []Field       { return slices.Concat(parts...) }
func callKeys() []Field                   { return fields(str("call_id"), phone("phone_number"), phone("caller_number")) }
func callInfo() []Field {
	return fields(str("caller_name"), stamp("call_start"), enum("direction", directions), str("status"), boolean("ai_handled"))
}
func analysis() []Field {
	return fields(str("summary"), array("topics", KindString), enum("sentiment", sentiments), enum("urgency", urgencies))
}
func links() []Field { return fields(link("transcription_url"), link("recording_url")) }
func transcriptFields() []Field {
	return fields(str("transcription_id"), num("confidence"), str("language"))
}
func voicemailParty() []Field {
	return fields(str("call_id"), phone("phone_number"), phone("caller_number"), str("caller_name"))
}
func userInfo() []Field {
	return fields(str("account_id"), Field{Name: "email", Kind: KindString, Format: FormatEmail}, str("name"), str("role"), enum("plan", plans), phone("phone_number"), str("timezone"))
}
func systemInfo() []Field {
	return fields(enum("severity", severities), str("region"), link("status_page_url"))
}

// catalog is every event type, in DESIGN §3's order.
var catalog = []Type{
	{
		Name: "call.received", Group: "call", Description: "A new call comes in.",
		Required: callKeys(),
		Optional: join(callInfo(), fields(object("caller_location"), num("spam_score"), boolean("spam_likely"), object("metadata"))),
	},
	{
		Name: "call.greeting", Group: "call", Description: "The AI greeting has played.",
		Required: callKeys(),
		Optional: join(callInfo(), fields(str("greeting_id"), str("greeting_text"), str("language"), stamp("played_at"),
			num("greeting_duration_seconds"), boolean("business_hours"), object("metadata"))),
	},
	{
		Name: "call.screening", Group: "call", Description: "The AI is screening the call.",
		Required: callKeys(),
		Optional: join(callInfo(), fields(stamp("screening_started_at"), str("caller_intent"), str("stated_reason"),
			num("spam_score"), enum("urgency", urgencies), array("questions_asked", KindString),
			object("collected_info"), str("recommended_action"), object("metadata"))),
	},
	{
		Name: "call.forwarded", Group: "call", Description: "The call is forwarded to the user.",
		Required: callKeys(),
		Optional: join(callInfo(), fields(boolean("forwarded"), phone("forwarded_to"), stamp("forwarded_at"), str("reason"),
			str("screening_summary"), enum("urgency", urgencies), integer("ring_seconds"), boolean("answered"), object("metadata"))),
	},
	{
		Name: "call.completed", Group: "call", Description: "The call has ended.",
		Required: join(callKeys(), fields(integer("duration_seconds"), str("status"))),
		Optional: join(fields(str("caller_name"), stamp("call_start"), stamp("call_end"), enum("direction", directions),
			boolean("ai_handled"), boolean("forwarded")), analysis(), fields(str("transcript")), links(), fields(object("metadata"))),
	},
	{
		Name: "call.summarized", Group: "call", Description: "The AI summary of the call is ready.",
		Required: join(callKeys(), fields(str("summary"))),
		Optional: join(fields(str("caller_name"), stamp("call_start"), stamp("call_end"), integer("duration_seconds"),
			enum("direction", directions), str("status"), array("topics", KindString), enum("sentiment", sentiments),
			enum("urgency", urgencies), str("intent"), array("action_items", KindString), stamp("summarized_at")),
			links(), fields(object("metadata"))),
	},
	{
		Name: "transcription.started", Group: "transcription", Description: "Transcription of a call begins.",
		Required: fields(str("call_id")),
		Optional: fields(str("transcription_id"), phone("phone_number"), phone("caller_number"), str("status"),
			str("language"), stamp("started_at")),
	},
	{
		Name: "transcription.interim", Group: "transcription", Description: "A partial transcript is available.",
		Required: fields(str("call_id"), str("transcript")),
		Optional: join(transcriptFields(), fields(integer("sequence"), str("speaker"), boolean("is_final"),
			num("offset_seconds"), num("duration_seconds"), array("words", KindObject))),
	},
	{
		Name: "transcription.completed", Group: "transcription", Description: "The full transcript is ready.",
		Required: fields(str("call_id"), str("transcript")),
		Optional: join(transcriptFields(), fields(phone("phone_number"), phone("caller_number"), str("status"),
			num("duration_seconds"), integer("word_count"), array("segments", KindObject), stamp("completed_at")), links()),
	},
	{
		Name: "transcription.analyzed", Group: "transcription", Description: "AI analysis of the transcript is complete.",
		Required: fields(str("call_id")),
		Optional: join(fields(str("transcription_id")), analysis(), fields(num("sentiment_score"), str("intent"),
			array("entities", KindObject), array("keywords", KindString), num("confidence"), stamp("analyzed_at"),
			link("transcription_url"))),
	},
	{
		Name: "voicemail.recorded", Group: "voicemail", Description: "A new voicemail was received.",
		Required: fields(str("voicemail_id")),
		Optional: join(voicemailParty(), fields(enum("direction", directions), str("status"), integer("duration_seconds"),
			stamp("recorded_at"), link("recording_url"), integer("size_bytes"), object("metadata"))),
	},
	{
		Name: "voicemail.transcribed", Group: "voicemail", Description: "A voicemail's transcription is complete.",
		Required: fields(str("voicemail_id"), str("transcript")),
		Optional: join(voicemailParty(), fields(integer("duration_seconds"), stamp("recorded_at"), num("confidence"),
			str("language")), analysis(), fields(stamp("transcribed_at")), links()),
	},
	{
		Name: "voicemail.read", Group: "voicemail", Description: "The user viewed the voicemail.",
		Required: fields(str("voicemail_id")),
		Optional: join(voicemailParty(), fields(str("status"), stamp("read_at"), object("read_by"), str("channel"),
			integer("listened_seconds"))),
	},
	{
		Name: "system.status", Group: "system", Description: "A component's status changed.",
		Required: fields(str("component"), enum("status", sysStatuses)),
		Optional: join(fields(enum("previous_status", sysStatuses), str("message")), systemInfo(),
			fields(str("incident_id"), stamp("started_at"), stamp("updated_at"))),
	},
	{
		Name: "system.error", Group: "system", Description: "A system error occurred.",
		Required: fields(str("component"), str("message")),
		Optional: join(fields(str("status"), str("error_code")), systemInfo(), fields(str("call_id"), str("request_id"),
			stamp("occurred_at"), boolean("retryable"), object("details"))),
	},
	{
		Name: "system.maintenance", Group: "system", Description: "Maintenance is scheduled, starting or over.",
		Required: fields(str("component"), str("message")),
		Optional: join(fields(enum("status", mntStatuses), str("maintenance_id"), stamp("starts_at"), stamp("ends_at"),
			str("expected_impact"), array("affected_regions", KindString)), systemInfo()),
	},
	{
		Name: "user.created", Group: "user", Description: "A user was created.",
		Required: fields(str("user_id")),
		Optional: join(userInfo(), fields(stamp("created_at"), str("invited_by"))),
	},
	{
		Name: "user.updated", Group: "user", Description: "A user's profile or plan changed.",
		Required: fields(str("user_id")),
		Optional: join(userInfo(), fields(array("changed_fields", KindString), object("previous"), stamp("updated_at"),
			str("updated_by"))),
	},
	{
		Name: "user.deleted", Group: "user", Description: "A user was deleted.",
		Required: fields(str("user_id")),
		Optional: join(userInfo(), fields(stamp("deleted_at"), str("deleted_by"), str("reason"),
			integer("data_retention_days"))),
	},
}

// groups lists the groups in catalog order.
var groups = []string{"call", "transcription", "voicemail", "system", "user"}

// byName indexes catalog.
var byName = func() map[string]*Type {
	m := make(map[string]*Type, len(catalog))
	for i := range catalog {
		m[catalog[i].Name] = &catalog[i]
	}
	return m
}()

// Types returns every event type in catalog order (DESIGN §3). The result
// is the caller's to keep or change.
func Types() []Type {
	out := make([]Type, len(catalog))
	for i, t := range catalog {
		out[i] = t.clone()
	}
	return out
}

// Lookup returns the event type called name.
func Lookup(name string) (Type, bool) {
	t, ok := byName[name]
	if !ok {
		return Type{}, false
	}
	return t.clone(), true
}

// IsType reports whether name is a known event type.
func IsType(name string) bool {
	_, ok := byName[name]
	return ok
}

// Groups returns the event groups in catalog order: call, transcription,
// voicemail, system, user.
func Groups() []string { return slices.Clone(groups) }

func isGroup(g string) bool { return slices.Contains(groups, g) }

// ValidSubscription checks one entry of an endpoint's event_types: an exact
// known type ("call.completed"), a known group wildcard ("call.*") or "*".
// The error is a KindInvalid *webhook.Error without a Field, for the caller
// to place ("event_types[2]").
func ValidSubscription(s string) error {
	switch {
	case s == "*" || IsType(s):
		return nil
	case s == "":
		return webhook.Invalid("", "event type must not be empty; %s", subscriptionHint())
	case strings.HasSuffix(s, ".*"):
		if g := strings.TrimSuffix(s, ".*"); isGroup(g) {
			return nil
		}
		return webhook.Invalid("", "unknown event group in %q; %s", s, subscriptionHint())
	default:
		return webhook.Invalid("", "unknown event type %q; %s", s, subscriptionHint())
	}
}

func subscriptionHint() string {
	return "want an event type such as call.completed, a group wildcard (" +
		strings.Join(groups, ".*, ") + ".*) or *"
}
