package webhooktest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// Diff compares got with want field by field and returns one line per
// difference, naming its path ("Retry.MaxRetries", "Attempts[1].At"). Times
// are compared with time.Equal (the instant, to the nanosecond; zone and
// monotonic reading ignored); a nil slice or map equals an empty one; raw
// JSON is compared byte for byte. Strings print in full (secrets too: the
// suites use throwaway ones).
func Diff(got, want any) []string {
	var out []string
	diff("", reflect.ValueOf(got), reflect.ValueOf(want), &out)
	return out
}

// CheckEqual fails t with every difference between got and want.
func CheckEqual(t testing.TB, what string, got, want any) {
	t.Helper()
	if ds := Diff(got, want); len(ds) > 0 {
		t.Errorf("%s differs (got / want):\n\t%s", what, strings.Join(ds, "\n\t"))
	}
}

func diff(path string, got, want reflect.Value, out *[]string) {
	if !got.IsValid() || !want.IsValid() {
		if got.IsValid() != want.IsValid() {
			*out = append(*out, fmt.Sprintf("%s: %s / %s", name(path), show(got), show(want)))
		}
		return
	}
	if got.Type() != want.Type() {
		*out = append(*out, fmt.Sprintf("%s: type %s / %s", name(path), got.Type(), want.Type()))
		return
	}
	if got.Type() == timeType {
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			*out = append(*out, fmt.Sprintf("%s: %s / %s", name(path), show(got), show(want)))
		}
		return
	}
	switch got.Kind() {
	case reflect.Pointer, reflect.Interface:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				*out = append(*out, fmt.Sprintf("%s: %s / %s", name(path), show(got), show(want)))
			}
			return
		}
		diff(path, got.Elem(), want.Elem(), out)
	case reflect.Struct:
		for i := range got.NumField() {
			f := got.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			diff(join(path, f.Name), got.Field(i), want.Field(i), out)
		}
	case reflect.Slice:
		if got.Type().Elem().Kind() == reflect.Uint8 {
			if string(got.Bytes()) != string(want.Bytes()) {
				*out = append(*out, fmt.Sprintf("%s: %q / %q", name(path), got.Bytes(), want.Bytes()))
			}
			return
		}
		if got.Len() != want.Len() {
			*out = append(*out, fmt.Sprintf("%s: %d elements / %d: %s / %s", name(path), got.Len(), want.Len(), show(got), show(want)))
			return
		}
		for i := range got.Len() {
			diff(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i), out)
		}
	case reflect.Map:
		if got.Len() != want.Len() {
			*out = append(*out, fmt.Sprintf("%s: %d entries / %d: %s / %s", name(path), got.Len(), want.Len(), show(got), show(want)))
			return
		}
		for _, k := range want.MapKeys() {
			g := got.MapIndex(k)
			if !g.IsValid() {
				*out = append(*out, fmt.Sprintf("%s[%v]: missing / %s", name(path), k, show(want.MapIndex(k))))
				continue
			}
			diff(fmt.Sprintf("%s[%v]", path, k), g, want.MapIndex(k), out)
		}
	case reflect.String:
		if got.String() != want.String() {
			*out = append(*out, fmt.Sprintf("%s: %q / %q", name(path), got.String(), want.String()))
		}
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: %s / %s", name(path), show(got), show(want)))
		}
	}
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func name(path string) string {
	if path == "" {
		return "value"
	}
	return path
}

func show(v reflect.Value) string {
	if !v.IsValid() {
		return "<nothing>"
	}
	if v.Type() == timeType {
		return v.Interface().(time.Time).Format(time.RFC3339Nano)
	}
	if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && !v.IsNil() {
		return "&" + show(v.Elem())
	}
	return fmt.Sprintf("%+v", v.Interface())
}
