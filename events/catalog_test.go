package events

import (
	"slices"
	"strings"
	"testing"

	"github.com/phoneshield/webhooks/shared/webhook"
)

// designTypes is DESIGN §3's list, in its order.
var designTypes = []string{
	"call.received", "call.greeting", "call.screening", "call.forwarded", "call.completed", "call.summarized",
	"transcription.started", "transcription.interim", "transcription.completed", "transcription.analyzed",
	"voicemail.recorded", "voicemail.transcribed", "voicemail.read",
	"system.status", "system.error", "system.maintenance",
	"user.created", "user.updated", "user.deleted",
}

func TestTypesFollowDesign(t *testing.T) {
	var got []string
	for _, ty := range Types() {
		got = append(got, ty.Name)
	}
	if !slices.Equal(got, designTypes) {
		t.Fatalf("Types() = %v, want %v", got, designTypes)
	}
}

func TestGroups(t *testing.T) {
	got, want := Groups(), []string{"call", "transcription", "voicemail", "system", "user"}
	if !slices.Equal(got, want) {
		t.Fatalf("Groups() = %v, want %v", got, want)
	}
	got[0] = "changed"
	if Groups()[0] != "call" {
		t.Error("Groups() shares its slice with the caller")
	}
}

func TestTypeDeclarations(t *testing.T) {
	kinds := []Kind{KindString, KindNumber, KindInteger, KindBoolean, KindArray, KindObject}
	for _, ty := range Types() {
		group, _, _ := strings.Cut(ty.Name, ".")
		if ty.Group != group {
			t.Errorf("%s: Group = %q, want %q", ty.Name, ty.Group, group)
		}
		if ty.Description == "" {
			t.Errorf("%s: no description", ty.Name)
		}
		if len(ty.Required) == 0 {
			t.Errorf("%s: no required fields", ty.Name)
		}
		seen := map[string]bool{}
		for _, f := range slices.Concat(ty.Required, ty.Optional) {
			if seen[f.Name] {
				t.Errorf("%s: field %s declared twice", ty.Name, f.Name)
			}
			seen[f.Name] = true
			if !slices.Contains(kinds, f.Kind) {
				t.Errorf("%s.%s: unknown kind %q", ty.Name, f.Name, f.Kind)
			}
			if (f.Format != FormatNone || f.Enum != nil) && f.Kind != KindString {
				t.Errorf("%s.%s: format or enum on a %s", ty.Name, f.Name, f.Kind)
			}
			if f.Elem != "" && (f.Kind != KindArray || !slices.Contains(kinds, f.Elem)) {
				t.Errorf("%s.%s: element kind %q on a %s", ty.Name, f.Name, f.Elem, f.Kind)
			}
		}
	}
}

func TestRequiredFields(t *testing.T) {
	tests := []struct {
		typ  string
		want []string
	}{
		{"call.received", []string{"call_id", "phone_number", "caller_number"}},
		{"call.completed", []string{"call_id", "phone_number", "caller_number", "duration_seconds", "status"}},
		{"call.summarized", []string{"call_id", "phone_number", "caller_number", "summary"}},
		{"transcription.started", []string{"call_id"}},
		{"transcription.interim", []string{"call_id", "transcript"}},
		{"transcription.completed", []string{"call_id", "transcript"}},
		{"voicemail.recorded", []string{"voicemail_id"}},
		{"voicemail.transcribed", []string{"voicemail_id", "transcript"}},
		{"system.status", []string{"component", "status"}},
		{"system.error", []string{"component", "message"}},
		{"system.maintenance", []string{"component", "message"}},
		{"user.deleted", []string{"user_id"}},
	}
	for _, tt := range tests {
		ty, ok := Lookup(tt.typ)
		if !ok {
			t.Fatalf("Lookup(%q) failed", tt.typ)
		}
		var got []string
		for _, f := range ty.Required {
			got = append(got, f.Name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s required = %v, want %v", tt.typ, got, tt.want)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, name := range designTypes {
		got, ok := Lookup(name)
		if !ok || got.Name != name {
			t.Errorf("Lookup(%q) = %q, %v", name, got.Name, ok)
		}
		if !IsType(name) {
			t.Errorf("IsType(%q) = false", name)
		}
	}
	for _, name := range []string{"", "call", "call.*", "*", "Call.Completed", "call.completed ", "call.ended"} {
		if _, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) succeeded", name)
		}
		if IsType(name) {
			t.Errorf("IsType(%q) = true", name)
		}
	}
}

func TestLookupReturnsACopy(t *testing.T) {
	ty, _ := Lookup("call.completed")
	ty.Required[0].Name = "changed"
	f, _ := ty.Field("direction")
	f.Enum[0] = "changed"
	again, _ := Lookup("call.completed")
	if again.Required[0].Name != "call_id" {
		t.Error("changing a looked-up type changed the catalog")
	}
	if f, _ := again.Field("direction"); f.Enum[0] != "inbound" {
		t.Error("changing a field's enum changed the catalog")
	}
}

func TestTypeField(t *testing.T) {
	ty, _ := Lookup("call.completed")
	tests := []struct {
		name   string
		want   Kind
		wantOK bool
	}{
		{"duration_seconds", KindInteger, true},
		{"topics", KindArray, true},
		{"caller_number", KindString, true},
		{"no_such_field", "", false},
	}
	for _, tt := range tests {
		got, ok := ty.Field(tt.name)
		if ok != tt.wantOK || got.Kind != tt.want {
			t.Errorf("Field(%q) = %q, %v; want %q, %v", tt.name, got.Kind, ok, tt.want, tt.wantOK)
		}
	}
}

func TestValidSubscription(t *testing.T) {
	tests := []struct {
		sub     string
		wantErr string // "" for valid
	}{
		{"*", ""},
		{"call.completed", ""},
		{"user.deleted", ""},
		{"call.*", ""},
		{"transcription.*", ""},
		{"voicemail.*", ""},
		{"system.*", ""},
		{"user.*", ""},
		{"", "must not be empty"},
		{"call", `unknown event type "call"`},
		{"call.", `unknown event type "call."`},
		{"call.ended", `unknown event type "call.ended"`},
		{"Call.Completed", `unknown event type "Call.Completed"`},
		{" call.completed", `unknown event type " call.completed"`},
		{"billing.*", `unknown event group in "billing.*"`},
		{"*.*", `unknown event group in "*.*"`},
		{".*", `unknown event group in ".*"`},
		{"call.**", `unknown event type "call.**"`},
		{"**", `unknown event type "**"`},
		{"call.completed.*", `unknown event group in "call.completed.*"`},
	}
	for _, tt := range tests {
		err := ValidSubscription(tt.sub)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("ValidSubscription(%q) = %v, want nil", tt.sub, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ValidSubscription(%q) = nil, want an error", tt.sub)
			continue
		}
		got := err.Error()
		if !strings.Contains(got, tt.wantErr) {
			t.Errorf("ValidSubscription(%q) = %q, want it to contain %q", tt.sub, got, tt.wantErr)
		}
		for _, g := range Groups() {
			if !strings.Contains(got, g+".*") {
				t.Errorf("ValidSubscription(%q) = %q, want it to list %s.*", tt.sub, got, g)
			}
		}
		if k := webhook.KindOf(err); k != webhook.KindInvalid {
			t.Errorf("ValidSubscription(%q) kind = %q, want invalid", tt.sub, k)
		}
		if f := webhook.FieldOf(err); f != "" {
			t.Errorf("ValidSubscription(%q) field = %q, want none (the caller places it)", tt.sub, f)
		}
	}
}

// Every valid subscription selects at least one type, and webhook's matcher
// agrees with the catalog on what a group wildcard selects.
func TestSubscriptionsSelectTypes(t *testing.T) {
	for _, g := range Groups() {
		sub := g + ".*"
		var got []string
		for _, ty := range Types() {
			if webhook.SubscriptionMatches(sub, ty.Name) {
				got = append(got, ty.Name)
				if ty.Group != g {
					t.Errorf("%s selects %s of group %s", sub, ty.Name, ty.Group)
				}
			}
		}
		if len(got) == 0 {
			t.Errorf("%s selects no type", sub)
		}
	}
}
