package bench

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// series is one line or set of points on a plot.
type series struct {
	Name   string
	XY     plotter.XYs
	Line   bool
	Points bool
}

// chart is one SVG plot.
type chart struct {
	Title, X, Y string
	LogX        bool
	// XFrom0 and YFrom0 start an axis at zero.
	XFrom0, YFrom0 bool
	Series         []series
	// HLine draws a dashed horizontal goal line when > 0.
	HLine     float64
	HLineName string
}

// save draws c into path, in the format its extension names (svg: fonts
// referenced by name, not embedded; png).
func (c chart) save(path string) error {
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.X
	p.Y.Label.Text = c.Y
	p.Legend.Top = true
	p.Legend.Left = false
	p.Add(plotter.NewGrid())
	if c.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	for i, s := range c.Series {
		if len(s.XY) == 0 {
			continue
		}
		col := plotutil.Color(i)
		if s.Line {
			l, err := plotter.NewLine(s.XY)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			l.Color = col
			l.Width = vg.Points(1.5)
			p.Add(l)
			if !s.Points {
				p.Legend.Add(s.Name, l)
			}
		}
		if s.Points {
			sc, err := plotter.NewScatter(s.XY)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			sc.Color = col
			sc.Shape = plotutil.Shape(i)
			sc.Radius = vg.Points(3)
			p.Add(sc)
			p.Legend.Add(s.Name, sc)
		}
	}
	if c.HLine > 0 {
		minX, maxX := p.X.Min, p.X.Max
		l, err := plotter.NewLine(plotter.XYs{{X: minX, Y: c.HLine}, {X: maxX, Y: c.HLine}})
		if err != nil {
			return err
		}
		l.Color = color.Gray{Y: 100}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(c.HLineName, l)
	}
	if c.YFrom0 && p.Y.Min > 0 {
		p.Y.Min = 0
	}
	if c.XFrom0 && !c.LogX && p.X.Min > 0 {
		p.X.Min = 0
	}
	if c.HLine > 0 && p.Y.Max < c.HLine*1.1 {
		p.Y.Max = c.HLine * 1.1
	}
	// Head room for the legend, so it does not cover the data.
	p.Y.Max += (p.Y.Max - p.Y.Min) * 0.06 * float64(len(c.Series)+1)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	w, err := p.WriterTo(7*vg.Inch, 4*vg.Inch, strings.TrimPrefix(filepath.Ext(path), "."))
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cdf is the empirical distribution function of xs as a step line.
func cdf(xs []float64) plotter.XYs {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	out := make(plotter.XYs, 0, 2*len(s))
	for i, x := range s {
		if x <= 0 {
			continue // log axes
		}
		out = append(out, plotter.XY{X: x, Y: float64(i) / float64(len(s))}, plotter.XY{X: x, Y: float64(i+1) / float64(len(s))})
	}
	return out
}
