// A MetricProducer for @opentelemetry/sdk-metrics: on each collection it
// takes one snapshot through the same scraper the HTTP endpoint uses and
// hands the families over as OTLP data, histograms as base-2 exponential
// histograms built from the native buckets (and/or the classic buckets).
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';
import type { NativeBuckets } from '../buckets/classic.ts';
import { exponentialFromNative } from '../buckets/exponential.ts';
import { kvmlensVersion } from '../build-info.ts';
import type { HistogramFamily, MetricFamily, ScalarFamily } from '../families.ts';
import type { Scraper } from '../scraper.ts';

export type OtlpHistogramKind = 'exponential' | 'explicit' | 'both';

/** Prometheus family name -> OTLP name and unit (the reverse of Prometheus' OTLP translation). */
export function otlpName(family: MetricFamily): { name: string; unit: string } {
  let name = family.name;
  let unit = '';
  if (family.type === 'counter') name = name.replace(/_total$/, '');
  if (name.endsWith('_seconds')) {
    name = name.slice(0, -'_seconds'.length);
    unit = 's';
  }
  return { name, unit };
}

export class SnapshotMetricProducer implements MetricProducer {
  private readonly startTime: HrTime = hrTime();

  constructor(
    private readonly scraper: Scraper,
    private readonly maxScale: number,
    private readonly histograms: OtlpHistogramKind = 'exponential',
  ) {}

  async collect(): Promise<CollectionResult> {
    const { families, snap } = this.scraper.gather(false);
    const endTime = hrTime();
    const metrics: MetricData[] = [];
    for (const f of families) {
      if (f.type === 'histogram') {
        if (this.histograms !== 'explicit' && snap.rows.buckets) metrics.push(this.exponential(f, snap.rows.buckets, endTime));
        if (this.histograms !== 'exponential') metrics.push(this.explicit(f, endTime, this.histograms === 'both'));
      } else {
        metrics.push(this.scalar(f, endTime));
      }
    }
    return {
      resourceMetrics: {
        resource: emptyResource(),
        scopeMetrics: [{ scope: { name: 'kvmlens', version: kvmlensVersion() }, metrics }],
      },
      errors: [],
    };
  }

  private descriptor(f: MetricFamily, suffix = '') {
    const { name, unit } = otlpName(f);
    return { name: name + suffix, description: f.help, unit, valueType: ValueType.DOUBLE };
  }

  private exponential(f: HistogramFamily, native: NativeBuckets, endTime: HrTime): MetricData {
    return {
      descriptor: this.descriptor(f),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
      dataPoints: f.children.map((c) => {
        const e = exponentialFromNative(native, c.rows, this.maxScale);
        return {
          startTime: this.startTime,
          endTime,
          attributes: c.labels as Attributes,
          value: {
            count: c.count,
            sum: c.sumSeconds,
            min: c.count > 0 ? c.minNs / 1e9 : undefined,
            max: c.count > 0 ? c.maxNs / 1e9 : undefined,
            scale: e.scale,
            zeroCount: e.zeroCount,
            positive: { offset: e.offset, bucketCounts: e.bucketCounts },
            negative: { offset: 0, bucketCounts: [] },
          },
        };
      }),
    };
  }

  private explicit(f: HistogramFamily, endTime: HrTime, suffixed: boolean): MetricData {
    const boundaries = [...this.scraper.opts.layout.boundsSeconds];
    return {
      descriptor: this.descriptor(f, suffixed ? '_explicit' : ''),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: f.children.map((c) => ({
        startTime: this.startTime,
        endTime,
        attributes: c.labels as Attributes,
        value: {
          count: c.count,
          sum: c.sumSeconds,
          min: c.count > 0 ? c.minNs / 1e9 : undefined,
          max: c.count > 0 ? c.maxNs / 1e9 : undefined,
          buckets: { boundaries, counts: Array.from(c.slots) },
        },
      })),
    };
  }

  private scalar(f: ScalarFamily, endTime: HrTime): MetricData {
    const dataPoints = f.samples.map((s) => ({
      startTime: this.startTime,
      endTime,
      attributes: s.labels as Attributes,
      value: s.value,
    }));
    if (f.type === 'counter') {
      return {
        descriptor: this.descriptor(f),
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints,
      };
    }
    return {
      descriptor: this.descriptor(f),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.GAUGE,
      dataPoints,
    };
  }
}
