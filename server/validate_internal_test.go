package server

import "testing"

func TestCountItems(t *testing.T) {
	for _, c := range []struct {
		body string
		max  uint64
		want uint64
	}{
		{`[]`, 10, 0},
		{` [ ] `, 10, 0},
		{`[1]`, 10, 1},
		{`["a,]"]`, 10, 1},
		{`[{"a":[1,2]},[3,4],"x\",",null]`, 10, 4},
		{`[1,2,3,4,5]`, 3, 3},
		{`:[{},{}]`, 10, 2},
	} {
		if got := countItems([]byte(c.body), 0, c.max); got != c.want {
			t.Errorf("countItems(%s, %d) = %d, want %d", c.body, c.max, got, c.want)
		}
	}
}
