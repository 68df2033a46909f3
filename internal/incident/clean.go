package incident

import (
	"reflect"
	"strings"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// Clean makes every string in an event storable as text on both
// databases: NUL characters (which PostgreSQL refuses in text, and a JSON
// \u0000 decodes to) and invalid UTF-8 become U+FFFD. Vendor payloads are
// untrusted, and one such character must not stall the inbox.
func (e *Event) Clean() { cleanValue(reflect.ValueOf(e).Elem()) }

// CleanText is Clean for one string.
func CleanText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func cleanValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(CleanText(v.String()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			cleanValue(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		for i := range v.NumField() {
			cleanValue(v.Field(i))
		}
	case reflect.Slice:
		for i := range v.Len() {
			cleanValue(v.Index(i))
		}
	}
}
