//! Fault injection as all the fakes do it: rules of (target, fault, every nth, at most n times),
//! counted against every request they match, the first rule added winning.

/// One injected fault and how often it fires.
struct Rule<T, F> {
    target: T,
    fault: F,
    every_nth: u32,
    limit: Option<u32>,
    matched: u32,
    fired: u32,
}

/// A fake's injected faults, in the order they were added.
pub struct Injector<T, F> {
    rules: Vec<Rule<T, F>>,
}

impl<T, F> Default for Injector<T, F> {
    fn default() -> Self {
        Injector { rules: Vec::new() }
    }
}

impl<T: Copy, F: Clone> Injector<T, F> {
    /// Give every `every_nth` request that `target` matches this fault, at most `limit` times.
    pub fn push(&mut self, target: T, fault: F, every_nth: u32, limit: Option<u32>) {
        self.rules.push(Rule {
            target,
            fault,
            every_nth,
            limit,
            matched: 0,
            fired: 0,
        });
    }

    /// Remove every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Count this request against every rule whose target `hits`; the first rule that fires wins.
    pub fn pick(&mut self, hits: impl Fn(T) -> bool) -> Option<F> {
        let mut chosen = None;
        for r in self.rules.iter_mut().filter(|r| hits(r.target)) {
            r.matched += 1;
            let due = r.matched % r.every_nth.max(1) == 0;
            let allowed = r.limit.is_none_or(|l| r.fired < l);
            if chosen.is_none() && due && allowed {
                r.fired += 1;
                chosen = Some(r.fault.clone());
            }
        }
        chosen
    }
}
