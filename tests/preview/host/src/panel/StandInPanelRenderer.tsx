/*
 * The preview host's PanelRenderer (what @grafana/runtime's PanelRenderer is
 * in Grafana once core calls setPanelRenderer): stand-in panel plugins for
 * the panel types MeshWatch renders, not Grafana's. Only "timeseries" has a
 * stand-in: a line per number field over the panel data's time range, the
 * field config's unit on the y axis, its thresholds drawn as Grafana's
 * thresholdsStyle says, and the data's annotations as vertical marks. It is
 * built from @grafana/ui's non-deprecated uPlot parts (UPlotChart,
 * UPlotConfigBuilder, VizLayout, VizLegend, PanelChrome), not Grafana's
 * time series panel, and every panel says "stand-in" in its header.
 */
import React, { useMemo } from 'react';
import {
  type DataFrame,
  type FieldConfigSource,
  FieldType,
  type GrafanaTheme2,
  type PanelData,
  applyFieldOverrides,
  formattedValueToString,
  outerJoinDataFrames,
} from '@grafana/data';
import type { PanelRendererProps } from '@grafana/runtime';
import {
  AxisPlacement,
  Badge,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  PanelChrome,
  ScaleDirection,
  ScaleOrientation,
  UPlotChart,
  UPlotConfigBuilder,
  VizLayout,
  VizLegend,
  type VizLegendItem,
  useTheme2,
} from '@grafana/ui';
import type uPlot from 'uplot';

/** The panel types the host has a stand-in for. */
export const STAND_IN_PANELS = ['timeseries'];

export function StandInPanelRenderer(props: PanelRendererProps) {
  const label = `stand-in ${props.pluginId} panel (preview host)`;
  return (
    <div data-testid="preview stand-in panel" data-plugin-id={props.pluginId} aria-label={`${props.title} (${label})`}>
      <PanelChrome
        width={props.width}
        height={props.height}
        title={props.title}
        titleItems={<Badge text={label} color="purple" icon="info-circle" />}
        collapsible={false}
      >
        {(width, height) =>
          STAND_IN_PANELS.includes(props.pluginId) ? (
            <StandInTimeSeries data={props.data} fieldConfig={props.fieldConfig} width={width} height={height} />
          ) : (
            <div>The preview host has no stand-in for the {props.pluginId} panel.</div>
          )
        }
      </PanelChrome>
    </div>
  );
}

interface Series {
  frame: DataFrame;
  legend: VizLegendItem[];
}

function prepare(
  data: PanelData | undefined,
  fieldConfig: FieldConfigSource | undefined,
  theme: GrafanaTheme2
): Series | undefined {
  if (!data?.series.length) {
    return undefined;
  }
  // Grafana merges the panel's field config defaults through its field
  // config registry, which only core fills: merge them here.
  const defaults = fieldConfig?.defaults ?? {};
  const series = data.series.map((f) => ({
    ...f,
    fields: f.fields.map((field) => ({ ...field, config: { ...field.config, ...defaults } })),
  }));
  const frames = applyFieldOverrides({
    data: series,
    fieldConfig: fieldConfig ?? { defaults: {}, overrides: [] },
    replaceVariables: (v) => v,
    theme,
    timeZone: 'utc',
  });
  const frame = frames.length === 1 ? frames[0] : outerJoinDataFrames({ frames });
  if (!frame || frame.fields[0]?.type !== FieldType.time) {
    return undefined;
  }
  const legend: VizLegendItem[] = [];
  frame.fields.slice(1).forEach((f, i) => {
    if (f.type === FieldType.number) {
      legend.push({
        label: f.config.displayNameFromDS ?? f.config.displayName ?? f.name,
        color: theme.visualization.getColorByName(theme.visualization.palette[i % theme.visualization.palette.length]),
        yAxis: 1,
      });
    }
  });
  return { frame, legend };
}

function StandInTimeSeries({
  data,
  fieldConfig,
  width,
  height,
}: {
  data?: PanelData;
  fieldConfig?: FieldConfigSource;
  width: number;
  height: number;
}) {
  const theme = useTheme2();
  const series = useMemo(() => prepare(data, fieldConfig, theme), [data, fieldConfig, theme]);
  const config = useMemo(
    () => (series && data ? build(series, data, fieldConfig, theme) : undefined),
    [series, data, fieldConfig, theme]
  );
  if (!series || !config || !data) {
    return <div>No data</div>;
  }
  const aligned = series.frame.fields
    .filter((f, i) => i === 0 || f.type === FieldType.number)
    .map((f) => f.values as Array<number | null>) as uPlot.AlignedData;
  return (
    <VizLayout
      width={width}
      height={height}
      legend={
        <VizLayout.Legend placement="bottom">
          <VizLegend placement="bottom" displayMode={LegendDisplayMode.List} items={series.legend} />
        </VizLayout.Legend>
      }
    >
      {(w, h) => <UPlotChart config={config} data={aligned} width={w} height={h} />}
    </VizLayout>
  );
}

function build(series: Series, data: PanelData, fieldConfig: FieldConfigSource | undefined, theme: GrafanaTheme2) {
  const b = new UPlotConfigBuilder('utc');
  const from = data.timeRange.from.valueOf();
  const to = data.timeRange.to.valueOf();
  b.addScale({
    scaleKey: 'x',
    isTime: true,
    orientation: ScaleOrientation.Horizontal,
    direction: ScaleDirection.Right,
    range: () => [from, to],
  });
  b.addAxis({ scaleKey: 'x', isTime: true, placement: AxisPlacement.Bottom, theme, timeZone: 'utc' });
  const defaults = fieldConfig?.defaults ?? {};
  const custom = (defaults.custom ?? {}) as {
    axisSoftMin?: number;
    axisSoftMax?: number;
    thresholdsStyle?: { mode?: GraphThresholdsStyleMode };
  };
  const softMin = defaults.min ?? custom.axisSoftMin ?? null;
  const softMax = defaults.max ?? custom.axisSoftMax ?? null;
  const numbers = series.frame.fields.filter((f, i) => i > 0 && f.type === FieldType.number);
  const display = numbers[0]?.display;
  b.addScale({
    scaleKey: 'y',
    orientation: ScaleOrientation.Vertical,
    direction: ScaleDirection.Up,
    softMin,
    softMax,
  });
  b.addAxis({
    scaleKey: 'y',
    placement: AxisPlacement.Left,
    theme,
    formatValue: (v: number) => (display ? formattedValueToString(display(v)) : String(v)),
  });
  numbers.forEach((f, i) => {
    b.addSeries({
      scaleKey: 'y',
      theme,
      lineColor: series.legend[i]?.color,
      lineWidth: 1,
      fillOpacity: 10,
      spanNulls: true,
    });
  });
  const style = custom.thresholdsStyle;
  if (defaults.thresholds && style?.mode && style.mode !== GraphThresholdsStyleMode.Off) {
    b.addThresholds({
      scaleKey: 'y',
      thresholds: defaults.thresholds,
      config: { mode: style.mode },
      theme,
      softMin,
      softMax,
    });
  }
  // The data's annotations: a dashed vertical line at each time, in its color.
  const marks: Array<{ time: number; color: string }> = [];
  for (const a of data.annotations ?? []) {
    const time = a.fields.find((f) => f.name === 'time');
    const color = a.fields.find((f) => f.name === 'color');
    time?.values.forEach((t: number, i: number) =>
      marks.push({ time: t, color: (color?.values[i] as string) ?? theme.colors.text.secondary })
    );
  }
  b.addHook('draw', (u: uPlot) => {
    const ctx = u.ctx;
    ctx.save();
    ctx.setLineDash([4, 4]);
    ctx.lineWidth = 1.5 * devicePixelRatio;
    for (const m of marks) {
      const x = Math.round(u.valToPos(m.time, 'x', true));
      ctx.strokeStyle = m.color;
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
    }
    ctx.restore();
  });
  return b;
}
