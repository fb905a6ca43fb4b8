// Package filter is the custom event filter language of enterprise
// endpoints (DESIGN §6): one language with two forms — a JSON tree for the
// API and UI, a text form for the CLI and documentation — compiled to the
// same validated evaluator once per configuration change, never per event.
//
// The seed's example (call.completed, over two minutes, "pricing" or
// "quote" mentioned) in text form:
//
//	event_type = "call.completed" and duration_seconds > 120 and (transcript has "pricing" or transcript has "quote")
//
// and as a JSON tree:
//
//	{"and": [
//	  {"field": "event_type", "op": "=", "value": "call.completed"},
//	  {"field": "duration_seconds", "op": ">", "value": 120},
//	  {"or": [
//	    {"field": "transcript", "op": "has", "value": "pricing"},
//	    {"field": "transcript", "op": "has", "value": "quote"}]}]}
//
// # Use
//
// Compile with [Parse] (text) or [FromJSON] (a tree, or a JSON string
// holding the text form) when an endpoint is saved; an invalid filter is an
// [*Error] pointing at the fault. [Filter.String] and [Filter.JSON] give
// the canonical forms, which compile back to an equal filter. Per event,
// call [Prepare] once and [Filter.Eval] for every endpoint's filter: the
// event's data is read once, and what conditions derive from it (whether
// the transcript has a phrase, a number's country and area code, metadata)
// is derived once, when first needed. Eval's why names the failing part, with
// the value seen: `duration_seconds > 120 (was 95)`. [Filter.Match]
// evaluates one event and traces every condition, for a "test this filter"
// view.
//
// # Text grammar
//
//	filter    = [ "tz" string ";" ] or .
//	or        = and { "or" and } .
//	and       = unary { "and" unary } .
//	unary     = "not" unary | "(" or ")" | condition .
//	condition = field op [ "tz" string ] .
//	op        = ( "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "prefix" | "has" | "contains" ) value
//	          | [ "not" ] "in" list
//	          | [ "not" ] "exists" .
//	list      = "[" [ value { "," value } ] "]" .
//	value     = string | number | "true" | "false" | word .
//	field     = name { "." key } .
//
// not binds tighter than and, which binds tighter than or. Keywords are
// case-insensitive; field names are not. Strings are double-quoted with the
// escapes \" \\ \/ \n \t \r \b \f and \uXXXX (surrogate pairs combined);
// numbers are decimal, optionally signed, with a fraction and an exponent
// (-1.5e-7), and doubles, as JavaScript's: one out of range is refused,
// and in a filter given as input (saved or tried; stored ones are read as
// they were saved) so is one so small it would be 0 and an integer
// written as digits from ±2^53 on (which would match its neighbours:
// 9007199254740993 is 9007199254740992) — quote a 64-bit id. A bare word (letters, digits, "_", "." and "-", not a keyword)
// is a string: urgency >= medium, time.weekday in [mon, tue],
// event_type = call.completed. White space is free.
//
// The JSON tree has the nodes {"and": [node, ...]}, {"or": [node, ...]},
// {"not": node} and conditions {"field": f, "op": op, "value": v, "tz": z}
// (no "value" for exists and not exists; an array for in and not in), plus
// the shorthand {"event_type": "call.completed"} (= ) or
// {"event_type": [...]} (in). "contains" is "has" and "==" is "=", in both
// forms. An and/or of one operand is that operand.
//
// # Fields
//
//	field               type                  operators
//	event_type          catalog event type    = != in, not in, prefix
//	caller_number       E.164 string          = != in, not in, prefix, exists
//	phone_number        E.164 string          = != in, not in, prefix, exists
//	caller_country      ISO 3166 region       = != in, not in, exists
//	phone_country       ISO 3166 region       = != in, not in, exists
//	caller_area_code    digits                = != in, not in, exists
//	phone_area_code     digits                = != in, not in, exists
//	direction           inbound|outbound      = != in, not in, exists
//	status              string                = != in, not in, prefix, exists
//	duration_seconds    number                = != in, not in, < <= > >=, exists
//	ai_handled          boolean               = != exists
//	forwarded           boolean               = != exists
//	topics              array of strings      has, in, not in, exists
//	sentiment           positive|neutral|negative|mixed  = != in, not in, exists
//	urgency             low < medium < high   = != in, not in, < <= > >=, exists
//	transcript          text                  has, exists
//	summary             text                  has, exists
//	time.hour           0..23                 = != in, not in, < <= > >=
//	time.minute         0..59                 (same)
//	time.clock          "HH:MM"               (same)
//	time.weekday        mon..sun (mon < sun)  (same)
//	time.day            1..31                 (same)
//	time.month          jan..dec              (same)
//	time.date           "YYYY-MM-DD"          (same)
//	metadata.<key>      string|number|boolean = != in, not in, < <= > >=, prefix, has, exists
//
// Every "exists" has its "not exists". All fields but event_type and
// time.* are read from the event's data object; an absent or null field,
// or one of the wrong JSON type, matches no operator but not exists.
//
// caller_country and phone_country are the region of the number as
// libphonenumber decides it — by number range for shared calling codes,
// so +1 416 is CA and +44 7911 may be GG;
// they are absent when no region claims the number (+1 555 0100,
// international freephone). The area codes are libphonenumber's national
// destination code ("415" for +1 415, "20" for London, "30" for Berlin,
// "6" for a French mobile), country-relative: pair them with a country.
// Country values are two-letter codes libphonenumber knows (case-
// insensitive; "UK" is an error, it is "GB"). Derived values are cached
// per number, bounded.
//
// The library is internal/phonenumbers, a cut-down fork of
// github.com/nyaruka/phonenumbers v1.8.1 (the Go port of libphonenumber)
// with its metadata and its parsing code, without the protobuf runtime or
// the geocoding, carrier and time zone data. It loads its metadata once,
// on first need — the first country or area code derived from an event,
// or the first country checked when a filter is compiled — not at start-up
// (~5 ms and ~1.3 MB of heap, then a few ms more per new region as its
// number patterns compile), so a process whose filters use neither never
// pays for it, and binaries that link this package stay small.
//
// # Operators
//
//   - = and in compare exactly; on direction, sentiment, urgency and the
//     countries case-insensitively. On numbers = compares values (187 =
//     187.0). On metadata they compare JSON values of the same type only
//     ("7" is not 7).
//   - != and not in are the negations of = and in: `a != b` is
//     `not (a = b)`, true when a is absent. Add `a exists` to require it.
//   - prefix: the string starts with the value; on numbers "+" and digits
//     ("+1415", "+44").
//   - has (contains) on transcript, summary and metadata strings: the
//     phrase occurs as whole words, case-insensitively: "quote" matches
//     "Quote," and "«QUOTE»" but not "quotes", "misquote" or "quote_id".
//     Phrases may have several words; runs of white space match any white
//     space. Case folding is Unicode simple folding (Σ σ ς are one letter;
//     ß is not ss; no normalization, so a decomposed é differs from é).
//     Word characters are letters, marks, digits and connector punctuation;
//     at an edge of a phrase that is in a script written without spaces
//     (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) no boundary is
//     required. On topics, has means an element equals the value
//     case-insensitively, and in that an element is in the list.
//   - <, <=, >, >= on numbers, urgency (low < medium < high) and time.*
//     (weekdays run mon < ... < sun, so time.weekday <= fri is a weekday).
//   - exists: present and not null.
//
// # Time
//
// time.* fields read the event's time (when it occurred) in an IANA time
// zone: per condition (`time.hour >= 9 tz "Europe/Paris"`) or once for the
// filter (`tz "America/New_York"; time.weekday <= fri and time.hour >= 9
// and time.hour < 17`); a condition's own zone wins over the filter's. In
// the JSON tree a condition has "tz", and the root may have a "tz" that is
// the default of its time conditions. Without a zone, time is UTC; a
// filter where some time conditions name a zone and others don't is an
// error (it is how "time.hour >= 9 and time.hour < 17 tz "Europe/Paris""
// would silently test 9 UTC). Conversion uses the zone's rules for that
// instant, so daylight saving time is always right: 13:30 UTC is 08:30 in
// New York on Friday 2025-03-07 and 09:30 on Monday 2025-03-10. The zone
// database is embedded (time/tzdata), for hosts without one (Lambda).
// The canonical text gives the zone once as a header when every time
// condition shares it, else on each condition; the canonical JSON gives it
// on each condition.
//
// # Limits
//
// A filter has at most [MaxNodes] nodes (and, or, not and conditions)
// nested at most [MaxDepth] deep; strings and words are at most
// [MaxString] bytes, lists at most [MaxList] elements, and the filter and
// its canonical forms at most [MaxSize] bytes. Evaluation is therefore
// bounded: at most 256 conditions, each a comparison, a scan of a list of
// at most 100 values, or a phrase scan of the event's text.
//
// # Errors
//
// An [*Error] locates the fault. For the JSON tree Path is the node's
// path, "and[1].or[0].field", "value[2]", "tz"; for the text form Path is
// "line:column" and Offset the byte offset. Faults found: syntax, unknown
// fields (with a suggestion), operators a field's type doesn't have
// (duration_seconds has "x"), values of the wrong type or out of range
// (time.hour < 24), unknown event types, bad phone numbers and prefixes,
// unknown regions, bad urgency, sentiment, weekday, month, clock or date
// values, bad time zones, tz on a field that isn't a time, and the limits.
//
// # Cost
//
// Compiling takes tens of µs. Per event, the data's members are located by
// a one-pass scanner without decoding the rest, and a field is decoded when
// a condition first reads it. A phrase that starts with an ASCII character
// (most do) is looked for in the text's JSON string as it is in the event:
// its escapes are checked once, then each place the phrase can begin (its
// first letter in either case, an escape, one of the few non-ASCII letters
// that fold to it) is compared a character at a time, folding only what is
// compared, so the text is never unescaped or folded as a whole; other
// phrases, and hostile text that this way would take more than linear time,
// search a copy unescaped and folded once (eight ASCII bytes at a time).
// Needles are folded at compile time, and each phrase's result is kept in
// the Input, so endpoints sharing a phrase, and explanations, don't search
// again. Measured on a shared 2-vCPU VM (BenchmarkSeedExample, 5 KB
// transcript, phrase at the end), as ratios to strings.Contains looking for
// both words in the same transcript in the same run (case-sensitive, not
// whole words; ~0.3 µs there): the seed filter on a fresh event, locating
// the data included, ~12× (~3.7 µs); a further filter on the same prepared
// event ~0.15×; unescaping and folding the transcript, then scanning the
// copy, as every phrase search did before, ~35×; a (?i)\b(pricing|quote)\b
// regexp ~600×. BenchmarkFilter50, 50 endpoint filters on one event: ~120×.
package filter
