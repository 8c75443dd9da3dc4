//! The `*word*` cores in one Aho-Corasick automaton (a DFA while small), and its overlapping
//! scan. No core holds a separator, so a token's matches do not depend on the text around it.

use aho_corasick::Anchored;
use aho_corasick::automaton::Automaton;

/// The automaton of the `*word*` cores.
#[derive(Debug)]
pub(super) enum Infix {
    Dfa(aho_corasick::dfa::DFA),
    Nfa(aho_corasick::nfa::contiguous::NFA),
}

impl Infix {
    /// Calls `f(end, pattern)` for every occurrence of every core in `hay` (overlapping), in
    /// order of the end, the patterns ending at one byte in the automaton's order: what
    /// `find_overlapping_iter` reports, without its per-match iterator state.
    #[inline]
    pub(super) fn scan(&self, hay: &[u8], f: impl FnMut(usize, usize)) {
        match self {
            Infix::Dfa(a) => infix_scan(a, hay, f),
            Infix::Nfa(a) => infix_scan(a, hay, f),
        }
    }
}

fn infix_scan<A: Automaton>(aut: &A, hay: &[u8], mut f: impl FnMut(usize, usize)) {
    let Ok(mut sid) = aut.start_state(Anchored::No) else {
        return;
    };
    for (at, &b) in hay.iter().enumerate() {
        sid = aut.next_state(Anchored::No, sid, b);
        if aut.is_special(sid) {
            if aut.is_dead(sid) {
                return;
            }
            if aut.is_match(sid) {
                for k in 0..aut.match_len(sid) {
                    f(at + 1, aut.match_pattern(sid, k).as_usize());
                }
            }
        }
    }
}
