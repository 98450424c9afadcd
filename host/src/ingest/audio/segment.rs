//! Energy-based speech detection and chunking on the per-frame energy profile.

use super::{SAMPLE_RATE, Segment, SegmentOptions};

/// Samples per analysis frame (20 ms at 16 kHz).
pub(super) const FRAME_SAMPLES: usize = 320;
/// Seconds per analysis frame.
pub(super) const FRAME_SECS: f64 = FRAME_SAMPLES as f64 / SAMPLE_RATE as f64;
/// Frames averaged when looking for the quietest split point, so a single-frame dip inside a
/// word does not win over a real pause.
const SPLIT_SMOOTHING_FRAMES: usize = 5;

/// Find speech segments in a file of `duration` seconds whose frame energies are `frame_db`.
///
/// Rules, in order: detect speech regions; merge gaps of at most `merge_gap_secs`; split segments
/// longer than `max_segment_secs` (at the quietest point shortly before the limit); drop segments
/// shorter than `min_segment_secs`; pad each side by `padding_secs` without overlapping neighbours
/// or exceeding the maximum. A file with no speech (silence, noise below the threshold) has no
/// segments: there is nothing to transcribe, and no chunk is cut.
pub(super) fn find_segments(
    frame_db: &[f32],
    duration: f64,
    opts: &SegmentOptions,
) -> Vec<Segment> {
    let frames = frame_db.len();
    let mut regions = detect(frame_db, opts);
    regions = merge(regions, opts.merge_gap_secs);
    let max_frames = secs_to_frames(opts.max_segment_secs).max(1);
    let min_frames = secs_to_frames(opts.min_segment_secs);
    let search_frames = secs_to_frames(opts.split_search_secs);
    let smoothed = smooth(frame_db);
    let mut split = Vec::with_capacity(regions.len());
    for r in regions {
        split_region(
            r,
            max_frames,
            min_frames,
            search_frames,
            &smoothed,
            &mut split,
        );
    }
    split.retain(|&(s, e)| e - s >= min_frames.max(1));

    if split.is_empty() {
        return Vec::new();
    }
    let to_secs = |f: usize| (f as f64 * FRAME_SECS).min(duration);
    let mut segments: Vec<Segment> = split
        .iter()
        .map(|&(s, e)| Segment {
            start: to_secs(s),
            end: if e >= frames { duration } else { to_secs(e) },
        })
        .collect();
    pad(&mut segments, duration, opts);
    segments
}

/// Speech regions as `[start, end)` frame ranges.
fn detect(frame_db: &[f32], opts: &SegmentOptions) -> Vec<(usize, usize)> {
    if frame_db.is_empty() {
        return Vec::new();
    }
    let floor = percentile(frame_db, opts.noise_percentile);
    let enter = (floor + opts.threshold_margin_db).max(opts.min_threshold_dbfs);
    let stay = enter - opts.hysteresis_db.max(0.0);
    let hangover = secs_to_frames(opts.hangover_secs);
    let mut regions = Vec::new();
    let mut current: Option<(usize, usize)> = None; // (start, last loud frame)
    for (i, &db) in frame_db.iter().enumerate() {
        let db = f64::from(db);
        current = match current {
            None if db >= enter => Some((i, i)),
            None => None,
            Some((s, _)) if db >= stay => Some((s, i)),
            Some((s, last)) if i - last > hangover => {
                regions.push((s, last + 1));
                None
            }
            keep => keep,
        };
    }
    if let Some((s, last)) = current {
        regions.push((s, last + 1));
    }
    regions
}

fn merge(regions: Vec<(usize, usize)>, gap_secs: f64) -> Vec<(usize, usize)> {
    let gap = secs_to_frames(gap_secs);
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(regions.len());
    for r in regions {
        match out.last_mut() {
            Some(prev) if r.0 - prev.1 <= gap => prev.1 = r.1,
            _ => out.push(r),
        }
    }
    out
}

/// Split `r` into pieces of at most `max` frames, cutting at the quietest smoothed frame within
/// `search` frames before each limit. The quietest frame is taken even when it is not silent: in
/// continuous speech the gap between words is still the least harmful place to cut. Cuts keep at
/// least `min` frames after them so the remainder is not dropped as a blip.
fn split_region(
    r: (usize, usize),
    max: usize,
    min: usize,
    search: usize,
    smoothed: &[f32],
    out: &mut Vec<(usize, usize)>,
) {
    let (mut start, end) = r;
    while end - start > max {
        let hi = (start + max).min(end.saturating_sub(min));
        let lo = (start + max).saturating_sub(search).max(start + 1);
        let cut = if lo < hi {
            // Ties go to the later frame, giving fewer and longer chunks.
            (lo..=hi.min(smoothed.len().saturating_sub(1)))
                .fold(None::<usize>, |best, i| match best {
                    Some(b) if smoothed[b] < smoothed[i] => Some(b),
                    _ => Some(i),
                })
                .unwrap_or(start + max)
        } else {
            start + max
        };
        out.push((start, cut));
        start = cut;
    }
    out.push((start, end));
}

/// Extend each segment by the padding, never into a neighbour nor past the maximum length.
fn pad(segments: &mut [Segment], duration: f64, opts: &SegmentOptions) {
    let p = opts.padding_secs.max(0.0);
    for i in 0..segments.len() {
        let prev_end = if i == 0 { 0.0 } else { segments[i - 1].end };
        let next_start = segments.get(i + 1).map_or(duration, |s| s.start);
        let s = &mut segments[i];
        let room = ((opts.max_segment_secs - (s.end - s.start)) / 2.0).max(0.0);
        let grow = p.min(room);
        s.start = (s.start - grow).max(prev_end);
        s.end = (s.end + grow).min(next_start);
    }
}

fn percentile(values: &[f32], p: f64) -> f64 {
    let mut v = values.to_vec();
    let k = ((v.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize;
    let (_, x, _) = v.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    f64::from(*x)
}

/// Centred moving average of the dB profile.
fn smooth(frame_db: &[f32]) -> Vec<f32> {
    let half = SPLIT_SMOOTHING_FRAMES / 2;
    (0..frame_db.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(frame_db.len());
            frame_db[lo..hi].iter().sum::<f32>() / (hi - lo) as f32
        })
        .collect()
}

fn secs_to_frames(secs: f64) -> usize {
    (secs.max(0.0) / FRAME_SECS).round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOUD: f32 = -20.0;
    const QUIET: f32 = -70.0;

    /// An energy profile from (start, end) speech times in a file of `duration` seconds.
    fn profile(duration: f64, speech: &[(f64, f64)]) -> Vec<f32> {
        let n = (duration / FRAME_SECS).round() as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 * FRAME_SECS;
                if speech.iter().any(|&(s, e)| t >= s && t < e) {
                    // Syllable-rate dips, as in real speech.
                    if (t * 5.0).fract() < 0.2 {
                        LOUD - 15.0
                    } else {
                        LOUD
                    }
                } else {
                    QUIET + ((i * 7919) % 5) as f32
                }
            })
            .collect()
    }

    fn segs(duration: f64, speech: &[(f64, f64)]) -> Vec<Segment> {
        find_segments(
            &profile(duration, speech),
            duration,
            &SegmentOptions::default(),
        )
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 0.3
    }

    #[test]
    fn boundaries_near_pauses() {
        let s = segs(20.0, &[(1.0, 4.0), (8.0, 12.0), (16.5, 18.0)]);
        assert_eq!(s.len(), 3, "{s:?}");
        for (seg, (a, b)) in s.iter().zip([(1.0, 4.0), (8.0, 12.0), (16.5, 18.0)]) {
            assert!(
                close(seg.start, a) && close(seg.end, b),
                "{seg:?} vs {a}-{b}"
            );
        }
    }

    #[test]
    fn short_gaps_merge() {
        let s = segs(12.0, &[(1.0, 3.0), (6.0, 8.0)]);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(close(s[0].start, 1.0) && close(s[0].end, 8.0), "{s:?}");
        // A gap just over the limit is kept.
        let s = segs(12.0, &[(1.0, 3.0), (6.4, 8.0)]);
        assert_eq!(s.len(), 2, "{s:?}");
    }

    #[test]
    fn long_speech_is_split() {
        let s = segs(75.0, &[(2.0, 72.0)]);
        assert!(s.len() >= 3, "{s:?}");
        for seg in &s {
            assert!(seg.end - seg.start <= 30.0 + 1e-9, "{seg:?}");
            assert!(seg.end - seg.start >= 0.5, "{seg:?}");
        }
        assert!(close(s[0].start, 2.0) && close(s[s.len() - 1].end, 72.0));
        for w in s.windows(2) {
            assert!(w[0].end <= w[1].start + 1e-9);
            assert!(
                w[1].start - w[0].end < 0.05,
                "no audio lost at a split: {w:?}"
            );
        }
    }

    #[test]
    fn split_prefers_pause() {
        // Continuous speech with a short (merged) pause at 27-27.6 s: the cut goes there.
        let s = segs(50.0, &[(1.0, 27.0), (27.6, 45.0)]);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].end > 26.9 && s[0].end < 27.7, "{s:?}");
    }

    #[test]
    fn blip_dropped() {
        let s = segs(20.0, &[(1.0, 4.0), (10.0, 10.3), (15.0, 18.0)]);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(
            s.iter().all(|seg| seg.end < 9.0 || seg.start > 11.0),
            "{s:?}"
        );
    }

    #[test]
    fn silence_has_no_segments() {
        assert_eq!(segs(10.0, &[]), vec![]);
        assert_eq!(segs(36_000.0, &[]), vec![], "ten hours of quiet");
        let digital = vec![-100.0f32; 500];
        assert_eq!(
            find_segments(&digital, 10.0, &SegmentOptions::default()),
            vec![]
        );
        assert_eq!(find_segments(&[], 0.0, &SegmentOptions::default()), vec![]);
    }

    #[test]
    fn options_are_honoured() {
        let opts = SegmentOptions {
            merge_gap_secs: 1.0,
            max_segment_secs: 10.0,
            ..Default::default()
        };
        let s = find_segments(&profile(30.0, &[(1.0, 3.0), (5.0, 20.0)]), 30.0, &opts);
        assert!(s.len() >= 3, "{s:?}");
        assert!(s.iter().all(|seg| seg.end - seg.start <= 10.0 + 1e-9));
    }
}
