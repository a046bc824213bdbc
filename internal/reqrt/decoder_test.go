package reqrt

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// skipAll reads body as one value to skip, as the decoders read unknown
// members: the accept/refuse of the scanner, duplicates aside.
func skipAll(body []byte) error {
	d := NewDecoder(body)
	d.Skip(nil)
	return d.Finish()
}

var scanCases = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e+3`, `-12.0E-1`, `"a"`,
	` {"a" : [1, 2, {"b": null}], "c": "\u00e9\ud83d\ude00\/\b"} `,
	`01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `tru`, `nul`, `nulll`, `[1,]`, `{"a":1,}`,
	`{,}`, `[,1]`, `{"a"}`, `{"a":}`, `{a:1}`, `"\x"`, `"\u12G4"`, "\"\x01\"", "\"\t\"",
	`"abc`, `[`, `{`, `{} {}`, `{}x`, "\ufeff{}", `/* c */ {}`, `// c` + "\n{}", `'a'`,
	"\"\xff\xfe\"", `NaN`, `Infinity`, `[1 2]`, `{"a":1 "b":2}`, "", " ",
}

func TestScannerMatchesJSONValid(t *testing.T) {
	cases := append([]string{}, scanCases...)
	cases = append(cases,
		strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth),
		strings.Repeat("[", MaxDepth+1)+strings.Repeat("]", MaxDepth+1),
		strings.Repeat(`{"a":`, MaxDepth)+"1"+strings.Repeat("}", MaxDepth),
		strings.Repeat(`{"a":`, MaxDepth+1)+"1"+strings.Repeat("}", MaxDepth+1),
	)
	for _, c := range cases {
		err := skipAll([]byte(c))
		if valid := json.Valid([]byte(c)); valid != (err == nil) {
			t.Errorf("%.40q: json.Valid %v, the scanner %v", c, valid, err)
		}
	}
}

func FuzzScanner(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := skipAll(body)
		var dup *DuplicateError
		if errors.As(err, &dup) {
			return // json.Valid accepts duplicates
		}
		if valid := json.Valid(body); valid != (err == nil) {
			t.Fatalf("%q: json.Valid %v, the scanner %v", body, valid, err)
		}
	})
}

// ReadString decodes as encoding/json does, invalid UTF-8 and lone
// surrogates included.
func TestReadStringMatchesEncodingJSON(t *testing.T) {
	for _, c := range []string{
		`"plain"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, `"\ud83d\ude00\ud83d"`,
		"\"\xff\xfe\"", "\"\xed\xa0\x80\"", "\"a\xc3\"", `"\"\\\/\b\f\n\r\t\u0000"`, "\"é\\n\xff\"",
	} {
		var want string
		if err := json.Unmarshal([]byte(c), &want); err != nil {
			t.Fatal(err)
		}
		d := NewDecoder([]byte(c))
		got := d.ReadString()
		if err := d.Finish(); err != nil || !bytes.Equal(got, []byte(want)) {
			t.Errorf("%q: got %q (%v), want %q", c, got, err, want)
		}
	}
}

func TestDuplicates(t *testing.T) {
	for body, want := range map[string]string{
		`{"a":1,"a":2}`:                    `duplicate member name "a" in The request body`,
		`{"a":1,"\u0061":2}`:               `duplicate member name "a" in The request body`,
		`{"x":[{"a":1},{"b":1,"b":2}]}`:    `duplicate member name "b" in x[1]`,
		`{"a":1,"A":2,"x":{"y":{},"y":1}}`: `duplicate member name "y" in x`,
	} {
		err := skipAll([]byte(body))
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", body, err, want)
		}
	}
	many := "{" + strings.Repeat(`"a":0,`, 0)
	for i := 0; i < 100; i++ {
		many += `"k` + strings.Repeat("x", i) + `":0,`
	}
	if err := skipAll([]byte(many + `"kxx":1}`)); err == nil {
		t.Error("a duplicate among many members is accepted")
	}
	if err := skipAll([]byte(strings.TrimSuffix(many, ",") + "}")); err != nil {
		t.Errorf("many distinct members: %v", err)
	}
}

func TestCollect(t *testing.T) {
	got := Collect([]Violation{
		{"b", "b1"}, {"a", "a1"}, {"b", "b2"}, {"a", "a1"}, {"", "root"}, {"a", "a2"},
	})
	want := []Violation{{"", "root"}, {"a", "a1"}, {"a", "a2"}, {"b", "b1"}, {"b", "b2"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestCollectKeepsTheFirstMaxViolations(t *testing.T) {
	var list []Violation
	for i := MaxViolations + 50; i > 0; i-- {
		list = append(list, Violation{Property: strconv.Itoa(i + 1000), Message: "m"})
	}
	got := Collect(list)
	if len(got) != MaxViolations || got[0].Property != "1001" || got[MaxViolations-1].Property != strconv.Itoa(1000+MaxViolations) {
		t.Errorf("got %d violations, %v ... %v", len(got), got[0], got[len(got)-1])
	}
}

// The decoder keeps no more violations than it may answer with, and
// answers with what Collect makes of all of them: many, in any order of
// paths, repeated or not, at one path or several.
func TestViolationsAreThoseCollectKeeps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"A", "B", "Messages", "Text", "x"}
	for round := 0; round < 200; round++ {
		d := NewDecoder(nil)
		var all []Violation
		n := rng.IntN(5 * MaxViolations)
		for i := 0; i < n; i++ {
			var p *Path
			for depth := rng.IntN(4); depth >= 0; depth-- {
				if rng.IntN(2) == 0 {
					p = &Path{Parent: p, Index: rng.IntN(30), Item: true}
				} else {
					p = &Path{Parent: p, Key: keys[rng.IntN(len(keys))]}
				}
			}
			ending := []string{TextNotNull, TextInvalid, TextRequired}[rng.IntN(3)]
			d.Violate(p, ending)
			all = append(all, Violation{Property: p.String(), Message: Subject(p.String()) + ending})
			if len(d.violations) >= 2*MaxViolations {
				t.Fatalf("the decoder holds %d violations", len(d.violations))
			}
		}
		err := d.Finish()
		if n == 0 {
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		var se *SchemaError
		if !errors.As(err, &se) {
			t.Fatalf("got %v, want a *SchemaError", err)
		}
		if want := Collect(all); !reflect.DeepEqual(se.Violations, want) {
			t.Fatalf("round %d, %d violations:\ngot  %v\nwant %v", round, n, se.Violations, want)
		}
	}
}

func TestIsIntIsAtoi(t *testing.T) {
	for _, s := range []string{"", "0", "12", "-3", "+4", "-", "+", "1a", "a1", " 1", "1_0", "0x1",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "00000000000000000000001"} {
		_, err := strconv.Atoi(s)
		if got := isInt(s); got != (err == nil) {
			t.Errorf("isInt(%q) = %v, Atoi's error %v", s, got, err)
		}
	}
}

func TestNumbers(t *testing.T) {
	for lit, want := range map[string]struct {
		f       float64
		fok     bool
		n       int64
		nok, in bool
	}{
		"10":         {10, true, 10, true, true},
		"-3":         {-3, true, -3, true, true},
		"1e2":        {100, true, 0, false, true},
		"1.0":        {1, true, 0, false, true},
		"0.5":        {0.5, true, 0, false, true},
		"1e400":      {0, false, 0, false, false},
		"2147483648": {2147483648, true, 0, false, false},
	} {
		f, fok := Float([]byte(lit))
		n, nok := Int([]byte(lit), 32)
		if fok != want.fok || (fok && f != want.f) || nok != want.nok || (nok && n != want.n) {
			t.Errorf("%s: Float %v %v, Int %v %v; want %+v", lit, f, fok, n, nok, want)
		}
		if fok && IntFormat(f, 32) != want.in {
			t.Errorf("%s: IntFormat(32) = %v", lit, !want.in)
		}
	}
}

func TestUUID(t *testing.T) {
	for s, ok := range map[string]bool{
		"3fa85f64-5717-4562-b3fc-2c963f66afa6":   true,
		"3FA85F64-5717-4562-B3FC-2C963F66AFA6":   true,
		"3fa85f64-5717-4562-b3fc-2c963f66afa":    false,
		"3fa85f6405717-4562-b3fc-2c963f66afa6":   false,
		"3fa85f64-5717-4562-b3fc-2c963f66afag":   false,
		"{3fa85f64-5717-4562-b3fc-2c963f66afa6}": false,
	} {
		u, got := UUID([]byte(s))
		if got != ok || (ok && u[0] != 0x3f || ok && u[15] != 0xa6) {
			t.Errorf("UUID(%q) = %x, %v", s, u, got)
		}
	}
}
