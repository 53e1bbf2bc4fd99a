package explain

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/prometheus/common/model"
)

// ValidateLogQL is a structural check of a LogQL query, not Loki's
// parser: Loki's own (pkg/logql/syntax) lives in its server module, far too
// heavy for the plugin (see pkg/systems/loki). It checks what makes a
// suggested query fail in Explore most often:
//
//   - the tokens: string literals ("…" with escapes, `…`) are closed, no
//     character LogQL does not use;
//   - brackets ( ) { } [ ] balance;
//   - every stream selector {…} is one or more label matchers
//     (name =|!=|=~|!~ "value"), at least one of which cannot match the
//     empty value (Loki refuses {app=~".*"}), with regular expressions that
//     compile;
//   - after a selector, the pipeline's stages: line filters
//     (|= != |~ !~ |> !> followed by a string, chained with "or"; their
//     regular expressions compile), and "| stage" where a stage that takes
//     a string (regexp, pattern, line_format) has one;
//   - a log query ({…} first) is the selector and its pipeline only (a
//     range [5m] needs a range function around it);
//   - a metric query has at least one range aggregation
//     (rate({…}[5m]), count_over_time, …) whose range is a duration, and
//     calls only LogQL's functions and aggregations.
//
// A query it passes can still be refused by Loki (a label filter's type, a
// misplaced unwrap); the error of one it refuses says where.
func ValidateLogQL(expr string) error {
	toks, err := lexLogQL(expr)
	if err != nil {
		return err
	}
	if len(toks) == 0 {
		return errors.New("the query is empty")
	}
	if err := balanced(toks); err != nil {
		return err
	}
	c := &logqlCheck{toks: toks}
	if toks[0].text == "{" {
		end, err := c.logQuery(0)
		if err != nil {
			return err
		}
		if end < len(toks) {
			if toks[end].text == "[" {
				return fmt.Errorf("at %d: a range [..] needs a range function around the log query, like count_over_time({…}[5m])", toks[end].pos)
			}
			return fmt.Errorf("at %d: unexpected %q after the log query", toks[end].pos, toks[end].text)
		}
		return nil
	}
	return c.metricQuery()
}

type logqlToken struct {
	kind byte // 's' string, 'i' identifier, 'n' number or duration, 'p' punctuation or operator
	text string
	pos  int
}

// logqlOps are LogQL's operators and punctuation, longest first.
var logqlOps = []string{"|=", "!=", "|~", "!~", "|>", "!>", "=~", "==", ">=", "<=",
	"{", "}", "(", ")", "[", "]", ",", "|", "=", ">", "<", "+", "-", "*", "/", "%", "^", "@"}

func lexLogQL(s string) ([]logqlToken, error) {
	var out []logqlToken
	for i := 0; i < len(s); {
		r := rune(s[i])
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			i++
		case r == '"' || r == '`':
			j := i + 1
			for ; j < len(s) && rune(s[j]) != r; j++ {
				if r == '"' && s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("at %d: a string is not closed", i)
			}
			lit := s[i : j+1]
			val := lit[1 : len(lit)-1]
			if r == '"' {
				v, err := strconv.Unquote(lit)
				if err != nil {
					return nil, fmt.Errorf("at %d: invalid string %s: %v", i, lit, err)
				}
				val = v
			}
			out = append(out, logqlToken{'s', val, i})
			i = j + 1
		case r == '_' || unicode.IsLetter(r):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '.' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			out = append(out, logqlToken{'i', s[i:j], i})
			i = j
		case unicode.IsDigit(r) || r == '.':
			j := i
			for j < len(s) && (s[j] == '.' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			out = append(out, logqlToken{'n', s[i:j], i})
			i = j
		default:
			op := ""
			for _, o := range logqlOps {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("at %d: unexpected character %q", i, s[i])
			}
			out = append(out, logqlToken{'p', op, i})
			i += len(op)
		}
	}
	return out, nil
}

func balanced(toks []logqlToken) error {
	pairs := map[string]string{")": "(", "}": "{", "]": "["}
	var stack []logqlToken
	for _, t := range toks {
		if t.kind != 'p' {
			continue
		}
		switch t.text {
		case "(", "{", "[":
			stack = append(stack, t)
		case ")", "}", "]":
			if len(stack) == 0 || stack[len(stack)-1].text != pairs[t.text] {
				return fmt.Errorf("at %d: %q closes nothing open", t.pos, t.text)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		t := stack[len(stack)-1]
		return fmt.Errorf("at %d: %q is not closed", t.pos, t.text)
	}
	return nil
}

// LogQL's range aggregations, and its other functions and aggregations.
var (
	logqlRangeFuncs = map[string]bool{"rate": true, "rate_counter": true, "count_over_time": true, "bytes_rate": true,
		"bytes_over_time": true, "sum_over_time": true, "avg_over_time": true, "max_over_time": true, "min_over_time": true,
		"first_over_time": true, "last_over_time": true, "stdvar_over_time": true, "stddev_over_time": true,
		"quantile_over_time": true, "absent_over_time": true}
	logqlFuncs = map[string]bool{"sum": true, "avg": true, "min": true, "max": true, "count": true, "stddev": true,
		"stdvar": true, "topk": true, "bottomk": true, "sort": true, "sort_desc": true, "label_replace": true,
		"vector": true, "approx_topk": true, "by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true,
		// unwrap conversions
		"duration": true, "duration_seconds": true, "bytes": true}
	logqlGrouping = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	// stages that take a string argument
	logqlStringStages = map[string]bool{"regexp": true, "pattern": true, "line_format": true}
)

type logqlCheck struct {
	toks []logqlToken
}

func (c *logqlCheck) at(i int) logqlToken {
	if i < len(c.toks) {
		return c.toks[i]
	}
	return logqlToken{kind: 0, pos: -1}
}

// logQuery checks the selector at i and its pipeline; it returns the index
// after them.
func (c *logqlCheck) logQuery(i int) (int, error) {
	i, err := c.selector(i)
	if err != nil {
		return i, err
	}
	for {
		t := c.at(i)
		if t.kind != 'p' {
			return i, nil
		}
		switch t.text {
		case "|=", "!=", "|~", "!~", "|>", "!>":
			if i, err = c.lineFilter(i); err != nil {
				return i, err
			}
		case "|":
			st := c.at(i + 1)
			if st.kind != 'i' {
				return i, fmt.Errorf("at %d: \"|\" must be followed by a stage (json, logfmt, a label filter, …)", t.pos)
			}
			i += 2
			if logqlStringStages[st.text] {
				if c.at(i).kind != 's' {
					return i, fmt.Errorf("at %d: %s needs a string", st.pos, st.text)
				}
				i++
			}
			// A stage's arguments (labels, label filters) run to the next
			// stage or the end of the log query.
			depth := 0
			for ; i < len(c.toks); i++ {
				x := c.toks[i]
				if x.kind == 'p' && depth == 0 && (x.text == "|" || x.text == "|=" || x.text == "|~" || x.text == "|>" ||
					x.text == "!~" || x.text == "!>" || x.text == ")" || x.text == "[" || x.text == "]") {
					break
				}
				if x.kind == 'p' && x.text == "!=" && depth == 0 && c.at(i+1).kind == 's' && st.text != "label_format" && !isLabelFilter(c, i) {
					break
				}
				switch x.text {
				case "(":
					depth++
				case ")":
					depth--
				}
			}
		default:
			return i, nil
		}
	}
}

// isLabelFilter: the "!=" at i compares a label (name != "v"), not a line
// filter.
func isLabelFilter(c *logqlCheck, i int) bool { return i > 0 && c.toks[i-1].kind == 'i' }

func (c *logqlCheck) lineFilter(i int) (int, error) {
	for {
		op := c.at(i)
		s := c.at(i + 1)
		if s.kind != 's' {
			return i, fmt.Errorf("at %d: the line filter %s needs a string", op.pos, op.text)
		}
		if op.text == "|~" || op.text == "!~" {
			if _, err := regexp.Compile(s.text); err != nil {
				return i, fmt.Errorf("at %d: the regular expression %q does not compile: %v", s.pos, s.text, err)
			}
		}
		i += 2
		if t := c.at(i); t.kind == 'i' && t.text == "or" {
			i++
			if c.at(i).kind != 's' {
				return i, fmt.Errorf("at %d: \"or\" needs a string", t.pos)
			}
			i-- // the string after "or" is checked with the same operator
			c.toks[i] = op
			continue
		}
		return i, nil
	}
}

// selector checks the stream selector at i ({name="v", …}) and returns the
// index after it.
func (c *logqlCheck) selector(i int) (int, error) {
	open := c.at(i)
	if open.text != "{" {
		return i, fmt.Errorf("at %d: a stream selector {…} is expected", open.pos)
	}
	i++
	matchers, nonEmpty := 0, false
	for {
		name, op, val := c.at(i), c.at(i+1), c.at(i+2)
		if name.kind == 'p' && name.text == "}" && matchers > 0 {
			i++
			break
		}
		if name.kind != 'i' {
			return i, fmt.Errorf("at %d: a stream selector needs label matchers like {app=\"api\"}", max(name.pos, open.pos))
		}
		if op.kind != 'p' || (op.text != "=" && op.text != "!=" && op.text != "=~" && op.text != "!~") {
			return i, fmt.Errorf("at %d: the matcher of %s needs =, !=, =~ or !~", name.pos, name.text)
		}
		if val.kind != 's' {
			return i, fmt.Errorf("at %d: the matcher of %s needs a quoted value", name.pos, name.text)
		}
		switch op.text {
		case "=":
			nonEmpty = nonEmpty || val.text != ""
		case "=~", "!~":
			re, err := regexp.Compile("^(?:" + val.text + ")$")
			if err != nil {
				return i, fmt.Errorf("at %d: the regular expression %q does not compile: %v", val.pos, val.text, err)
			}
			nonEmpty = nonEmpty || (op.text == "=~" && !re.MatchString(""))
		}
		matchers++
		i += 3
		switch t := c.at(i); {
		case t.text == ",":
			i++
		case t.text == "}":
		default:
			return i, fmt.Errorf("at %d: a stream selector's matchers are separated by commas and end with }", max(t.pos, name.pos))
		}
	}
	if !nonEmpty {
		return i, fmt.Errorf("at %d: the stream selector needs at least one matcher that cannot match an empty value (Loki refuses {app=~\".*\"})", open.pos)
	}
	return i, nil
}

// metricQuery checks a metric query: each selector with its pipeline,
// each function called is LogQL's, and at least one range aggregation with
// a duration range.
func (c *logqlCheck) metricQuery() error {
	ranges := 0
	for i := 0; i < len(c.toks); {
		t := c.toks[i]
		switch {
		case t.kind == 'p' && t.text == "{":
			end, err := c.logQuery(i)
			if err != nil {
				return err
			}
			i = end
			continue
		case t.kind == 'p' && t.text == "[":
			d, cl := c.at(i+1), c.at(i+2)
			if d.kind != 'n' || cl.text != "]" {
				return fmt.Errorf("at %d: a range is a duration in brackets, like [5m]", t.pos)
			}
			if _, err := model.ParseDuration(d.text); err != nil {
				return fmt.Errorf("at %d: %q is not a duration: %v", d.pos, d.text, err)
			}
			i += 3
			continue
		case t.kind == 'i' && c.at(i+1).text == "(" && logqlGrouping[t.text]:
			// by (pod, app): label names up to the closing parenthesis.
			j := i + 2
			for ; j < len(c.toks) && c.toks[j].text != ")"; j++ {
				if x := c.toks[j]; x.kind != 'i' && x.text != "," {
					return fmt.Errorf("at %d: %s (…) lists label names", x.pos, t.text)
				}
			}
			i = j + 1
			continue
		case t.kind == 'i' && c.at(i+1).text == "(":
			switch {
			case logqlRangeFuncs[t.text]:
				ranges++
			case logqlFuncs[t.text]:
			default:
				return fmt.Errorf("at %d: %s is not a LogQL function or aggregation", t.pos, t.text)
			}
		case t.kind == 'i' && !logqlFuncs[t.text] && t.text != "offset" && t.text != "bool" && t.text != "and" && t.text != "or" && t.text != "unless":
			return fmt.Errorf("at %d: unexpected %q (a metric query is built from range aggregations like rate({…}[5m]))", t.pos, t.text)
		}
		i++
	}
	if ranges == 0 {
		return errors.New("neither a log query (starting with a stream selector {…}) nor a metric query (a range aggregation like rate({…}[5m]))")
	}
	return nil
}
