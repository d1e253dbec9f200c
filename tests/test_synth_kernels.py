"""numba kernels of the generator against the plain-Python references in naive_synth."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_synth
from flyttkedja import _random
from flyttkedja.synth import _kernels as K
from flyttkedja.synth import load_config
from flyttkedja.synth._year import radix_argsort
from flyttkedja.synth.simulate import kernel_params

PAR = kernel_params(load_config("tiny"))


@settings(max_examples=200, deadline=None)
@given(key=st.integers(0, 2**64 - 1), a=st.integers(0, 2**62), b=st.integers(0, 2**40), c=st.integers(0, 2**20))
def test_counter_based_uniforms_match_reference(key, a, b, c):
    assert _random.u01(np.uint64(key), a, b) == naive_synth.u01(key, a, b)
    assert _random.u01x(np.uint64(key), a, b, c) == naive_synth.u01x(key, a, b, c)


@settings(max_examples=100, deadline=None)
@given(kind=st.integers(1, 7), a=st.integers(-(2**62), 2**62), b=st.integers(0, 2**40))
def test_identities_match_reference(kind, a, b):
    assert K.ident(kind, a, b) == naive_synth.ident(kind, a, b)
    assert K.ident_array(kind, np.array([a]), b)[0] == naive_synth.ident(kind, a, b)


def test_vectorised_uniforms_match_the_kernel():
    key = _random.stream_key(7, 3)
    a = np.array([0, 1, 2**40, 2**62])
    np.testing.assert_array_equal(_random.u01_array(key, a, 5), [naive_synth.u01(int(key), int(x), 5) for x in a])


seeker = st.fixed_dictionaries({
    "seg": st.integers(0, 14), "state": st.sampled_from([0, 1, 1, 1, 2]), "kind": st.sampled_from([0, 0, 1, 3, 4]),
    "income": st.integers(50_000, 900_000), "muni": st.integers(0, 2), "queue": st.integers(-3000, 0),
    "key": st.integers(0, 2**62), "age": st.integers(18, 95), "kids": st.integers(0, 3),
    "atype": st.integers(-1, 4), "couple": st.booleans(), "leaver": st.booleans(),
    "pstate": st.sampled_from([0, 1, 1, 2]), "reach": st.integers(0, 4), "wide": st.booleans(),
})


N_MUNI = 3  # the municipalities of the tests below (0, 1, 2)
N_SLISTS = K.N_SEG * (N_MUNI + 1) * K.N_GROUP  # seeker lists: segment x scope x group
N_VLISTS = K.N_SEG * N_MUNI * K.N_ATYPE  # vacancy lists: segment x municipality x area type
N_SCOUNT = K.N_SEG * (N_MUNI + 1) * K.N_BAND  # linked entries per segment x scope x band


def market(sk, hh, p, d, shead, stail, par, key, year, arr=None, ap=None, spay=None, scount=None):
    """A Market around the given arrays (the rest empty)."""
    empty = np.zeros((1, 1), np.int64)
    return K.Market(hh=hh, p=p, d=d, sk=sk, cnt=np.zeros(K.C_NCOL, np.int64), mv=empty, pe=empty,
                    wd=np.zeros(1, np.int64), ve=np.zeros((1, 3), np.int64), vhead=np.full(N_VLISTS, -1),
                    vtail=np.full(N_VLISTS, -1), shead=shead, stail=stail,
                    spay=spay if spay is not None else np.zeros(len(shead), np.int64),
                    scount=scount if scount is not None else np.zeros(N_SCOUNT, np.int64), vq=np.zeros(1, np.int64),
                    pair=np.full((3, 1), -1), arr=arr if arr is not None else np.zeros((1, K.A_NCOL), np.int64),
                    ap=ap if ap is not None else np.zeros((1, K.AP_NCOL), np.int64), par=par,
                    cost=np.zeros((3, 5)), year=np.int64(year), key=np.uint64(key))


@settings(max_examples=60, deadline=None)
@given(seekers=st.lists(seeker, max_size=40), tenure=st.integers(0, 2), rooms=st.integers(1, 5),
       landlord=st.integers(0, 1), muni=st.integers(0, 2), cost=st.integers(80_000, 700_000),
       age=st.integers(0, 200), scan=st.integers(1, 12), candidates=st.integers(1, 6), broad=st.booleans(),
       key=st.integers(0, 2**63), dkey=st.integers(0, 2**62), alloc=st.sampled_from([0, 0, 1, 2, 3, 4]),
       ceiling=st.integers(50_000, 900_000), atype=st.integers(0, 4), new=st.booleans(),
       couple_new=st.sampled_from([0.0, 3.0]), help=st.sampled_from([1.0, 2.0]),
       private=st.sampled_from([1.0, 1.8]))
def test_matching_picks_the_reference_winner(seekers, tenure, rooms, landlord, muni, cost, age, scan,
                                             candidates, broad, key, dkey, alloc, ceiling, atype, new,
                                             couple_new, help, private):
    """The winner, with the jitter keyed to stable keys, the allocation rule and a private landlord's income
    requirement honoured, seekers looking only where they look (municipality, area types within their reach)
    and couples moving in together preferring a new build's first letting."""
    day, year = 20_000, 2024
    n = len(seekers)
    for i, s in enumerate(seekers):
        s["index"] = i
        if s["kind"] >= 3 and s["state"] == 2:
            s["state"] = 1  # arrivals have no household that could have moved today
        if s["kind"] >= 3:
            s["atype"] = -1  # and live in no area of the region
        if s["kind"] == 1:
            s["kids"] = 0  # a young adult leaving home moves in alone or with a partner
        # a couple moving in together: a single (kind 0) with a single or with a young adult leaving the
        # parental home, or two young adults leaving home (kind 1, the partner a leaver)
        s["couple"] = s["couple"] and s["kind"] in (0, 1) and s["kids"] == 0
        s["leaver"] = s["couple"] and (s["leaver"] or s["kind"] == 1)
        s["own"] = s["state"]
        bp = help if s["seg"] // 5 != 0 and s["kind"] in (1, 2) else 1.0
        s["pay"] = int(np.ceil(s["income"] * bp))
        if s["couple"]:  # the couple's seeker is as valid as its less valid partner
            s["state"] = naive_synth.couple_state(s["state"], s["pstate"])
    par = PAR.copy()
    par[K.PR_SCAN], par[K.PR_CAND] = scan, candidates
    par[K.PR_COUPLE_NEW], par[K.PR_START_HELP], par[K.PR_PRIVATE_INCOME] = couple_new, help, private
    dw = 3
    d = np.zeros((5, K.D_NCOL), np.int64)
    d[dw, [K.D_TENURE, K.D_ROOMS, K.D_MUNI, K.D_COST, K.D_VACDAY, K.D_LANDLORD, K.D_KEY, K.D_ALLOC,
           K.D_CEILING, K.D_ATYPE, K.D_VACROW]] = (tenure, rooms, muni, cost, day - age,
                                                   landlord if tenure == 0 else -1, dkey, alloc, ceiling, atype,
                                                   K.SRC_NEW_BUILD if new else 17)
    sk = np.zeros((n + 1, K.S_NCOL), np.int64)
    hh = np.zeros((2 * n + 1, K.H_NCOL), np.int64)
    p = np.zeros((2 * n + 1, K.P_NCOL), np.int64)
    arr = np.zeros((n + 1, K.A_NCOL), np.int64)
    ap = np.zeros((4 * n + 1, K.AP_NCOL), np.int64)
    shead = np.full(N_SLISTS, -1, np.int64)
    stail = np.full(N_SLISTS, -1, np.int64)
    spay = np.zeros(N_SLISTS, np.int64)
    scount = np.zeros(N_SCOUNT, np.int64)
    for i, s in enumerate(seekers):
        sk[i, K.S_KIND] = s["kind"]
        sk[i, K.S_HH] = i if s["kind"] == 0 else -1
        sk[i, K.S_TENURE], sk[i, K.S_ROOMS] = divmod(s["seg"], 5)
        sk[i, K.S_ROOMS] += 1
        sk[i, K.S_INCOME], sk[i, K.S_MUNI], sk[i, K.S_QUEUE] = s["income"], s["muni"], day + s["queue"]
        sk[i, K.S_ACTIVE] = 1
        sk[i, K.S_EXPIRE] = day - 1 if s["own"] == 0 else day + 30
        sk[i, K.S_KEY] = s["key"]
        b = n + 1 + i
        sk[i, K.S_PARTNER] = b if s["couple"] and not s["leaver"] else -1
        sk[i, K.S_LEAVER] = b if s["leaver"] else -1
        sk[i, K.S_ATYPE], sk[i, K.S_REACH], sk[i, K.S_WIDE] = s["atype"], s["reach"], int(s["wide"])
        sk[i, K.S_PAY] = s["pay"]
        if s["couple"] and not s["leaver"]:  # the partner: a single in its own dwelling, waiting for the seeker
            hh[b, K.H_ALIVE], hh[b, K.H_SEEKER], hh[b, K.H_SIZE], hh[b, K.H_CORE] = 1, i, 1, 1
            hh[b, K.H_LASTMOVE] = day if s["pstate"] == 2 else -1
            if s["pstate"] == 0:  # no longer single: someone moved in
                hh[b, K.H_SIZE] = 2
        if s["leaver"]:  # the partner: a young adult at home (household b), waiting for the seeker
            p[b, K.P_HH], p[b, K.P_SEEKER], p[b, K.P_ROLE] = b, i, K.ROLE_CHILD
            hh[b, K.H_ALIVE] = 1
            hh[b, K.H_LASTMOVE] = day if s["pstate"] == 2 else -1  # the parents moved today
            if s["pstate"] == 0:  # left home since (alone)
                p[b, K.P_ROLE] = K.ROLE_CORE
        hh[i, K.H_ALIVE], hh[i, K.H_SEEKER] = 1, i
        hh[i, K.H_LASTMOVE] = day if s["own"] == 2 else -1
        # the household the seeker would move in as: head of age s["age"] with s["kids"] children
        hh[i, K.H_HEAD], hh[i, K.H_CORE], hh[i, K.H_SIZE] = i, 1, 1 + s["kids"]
        p[i, K.P_BY] = year - s["age"]
        if s["kind"] == 1:  # the young adult is a child of household i, waiting for seeker i
            sk[i, K.S_PERSON] = i
            p[i, K.P_HH], p[i, K.P_SEEKER], p[i, K.P_ROLE] = i, i, K.ROLE_CHILD
        first = 4 * i
        sk[i, K.S_ARRIVAL] = i
        arr[i, K.A_PSTART], arr[i, K.A_PEND] = first, first + 1 + s["kids"]
        ap[first, K.AP_BY], ap[first, K.AP_ROLE] = year - s["age"], K.ROLE_CORE
        ap[first + 1: first + 1 + s["kids"], K.AP_ROLE] = K.ROLE_CHILD
        K.append_seeker(sk, shead, stail, spay, scount, i)
    reference = naive_synth.find_seeker(seekers, {
        "tenure": tenure, "rooms": rooms, "landlord": landlord, "muni": muni, "cost": cost,
        "vacday": day - age, "key": dkey, "alloc": alloc, "ceiling": ceiling, "atype": atype, "new": new,
    }, day, key, {
        "scan": scan, "candidates": candidates, "floor": par[K.PR_PRICE_FLOOR], "cut": par[K.PR_PRICE_CUT],
        "cross": par[K.PR_CROSS], "cross_new": par[K.PR_CROSS_NEW], "qw": par[K.PR_QW0:K.PR_QW0 + 4],
        "iw": par[K.PR_IW0:K.PR_IW0 + 4], "bonus": par[K.PR_BONUS0:K.PR_BONUS0 + 5], "jitter": par[K.PR_JITTER],
        "same_muni": par[K.PR_SAME_MUNI], "couple_new": couple_new, "help": help, "private": private,
    }, broad)
    got = K.find_seeker(market(sk, hh, p, d, shead, stail, par, key, year, arr, ap, spay, scount), dw, day,
                        broad)
    assert (None if got < 0 else got) == reference
    # unlinking dead entries keeps every live one, in order, in its own list; each list's bound covers it
    chains = {}
    for lst in range(N_SLISTS):
        chain, s = [], shead[lst]
        while s >= 0:
            chain.append(s)
            assert sk[s, K.S_PAY] <= spay[lst]
            s = sk[s, K.S_NEXT]
        assert stail[lst] == (chain[-1] if chain else -1)
        chains.update({s: (lst, j) for j, s in enumerate(chain)})
    # the count of linked entries per segment x scope x band is the lists' total
    per_count = np.zeros(N_SCOUNT, np.int64)
    for s, (lst, _) in chains.items():
        seg, rest = divmod(lst, (N_MUNI + 1) * K.N_GROUP)
        scope, group = divmod(rest, K.N_GROUP)
        per_count[(seg * (N_MUNI + 1) + scope) * K.N_BAND + group // (K.N_ATYPE ** 2 + 1)] += 1
    np.testing.assert_array_equal(per_count, scount)
    live = [x["index"] for x in seekers if x["state"] != 0]
    assert set(live) <= set(chains)
    for a, b in zip(live, live[1:]):
        if chains[a][0] == chains[b][0]:
            assert chains[a][1] < chains[b][1]


vacancy = st.fixed_dictionaries({
    "seg": st.integers(0, 14), "live": st.sampled_from([True, True, True, False]),
    "cost": st.integers(80_000, 700_000), "age": st.integers(0, 200), "muni": st.integers(0, 2),
    "key": st.integers(0, 2**62), "alloc": st.sampled_from([0, 0, 0, 1, 2, 3, 4]),
    "ceiling": st.integers(50_000, 900_000), "atype": st.integers(0, 4), "landlord": st.integers(0, 1),
})


@settings(max_examples=60, deadline=None)
@given(vacancies=st.lists(vacancy, max_size=30), seg=st.integers(0, 14), kind=st.sampled_from([0, 1, 3, 4]),
       income=st.integers(50_000, 900_000), muni=st.integers(0, 2), skey=st.integers(0, 2**62),
       age=st.integers(18, 95), kids=st.integers(0, 3), key=st.integers(0, 2**63), scan=st.integers(1, 12),
       atype=st.integers(0, 4), reach=st.integers(0, 4), wide=st.booleans(), help=st.sampled_from([1.0, 2.0]),
       private=st.sampled_from([1.0, 1.8]))
def test_new_seeker_takes_the_reference_vacancy(vacancies, seg, kind, income, muni, skey, age, kids, key, scan,
                                                atype, reach, wide, help, private):
    """A new seeker's pick: the oldest it can take where it looks, own size first, at most ``scan`` live
    entries, rules honoured; unlinking stale entries keeps every live one, in order."""
    day, year = 20_000, 2024
    n = len(vacancies)
    d = np.zeros((n + 1, K.D_NCOL), np.int64)
    ve = np.zeros((n + 1, 3), np.int64)
    vhead = np.full(N_VLISTS, -1, np.int64)
    vtail = np.full(N_VLISTS, -1, np.int64)
    par = PAR.copy()
    par[K.PR_SCAN], par[K.PR_START_HELP], par[K.PR_PRIVATE_INCOME] = scan, help, private
    if kind >= 3:
        atype = -1  # an arrival lives in no area of the region
    if kind == 1:
        kids = 0  # a young adult leaving home (person 0) moves in alone
    m0 = market(np.zeros((1, K.S_NCOL), np.int64), np.zeros((1, K.H_NCOL), np.int64),
                np.zeros((1, K.P_NCOL), np.int64), d, np.full(N_SLISTS, -1), np.full(N_SLISTS, -1), par, key, year)
    m0 = m0._replace(ve=ve, vhead=vhead, vtail=vtail)
    for i, v in enumerate(vacancies):
        v["index"], v["vacday"], v["tenure"] = i, day - v["age"], v["seg"] // 5
        if v["tenure"] != 0:
            v["landlord"] = -1
        d[i, [K.D_TENURE, K.D_ROOMS, K.D_MUNI, K.D_COST, K.D_VACDAY, K.D_KEY, K.D_ALLOC, K.D_CEILING,
              K.D_ATYPE, K.D_LANDLORD]] = (v["seg"] // 5, v["seg"] % 5 + 1, v["muni"], v["cost"], v["vacday"],
                                           v["key"], v["alloc"], v["ceiling"], v["atype"], v["landlord"])
        d[i, K.D_STATE] = K.DS_VAC
        K.append_vacancy(m0, i)
        if not v["live"]:  # taken since it was listed: a stale entry
            d[i, K.D_STATE], d[i, K.D_SEQ] = K.DS_OCC, d[i, K.D_SEQ] + 1
    sk = np.zeros((1, K.S_NCOL), np.int64)
    sk[0, K.S_KIND], sk[0, K.S_INCOME], sk[0, K.S_MUNI], sk[0, K.S_KEY] = kind, income, muni, skey
    sk[0, K.S_TENURE], sk[0, K.S_ROOMS] = seg // 5, seg % 5 + 1
    sk[0, K.S_ATYPE], sk[0, K.S_REACH], sk[0, K.S_WIDE] = atype, reach, int(wide)
    sk[0, K.S_PARTNER] = sk[0, K.S_LEAVER] = -1
    hh = np.zeros((1, K.H_NCOL), np.int64)
    hh[0, K.H_HEAD], hh[0, K.H_CORE], hh[0, K.H_SIZE] = 0, 1, 1 + kids
    p = np.zeros((1, K.P_NCOL), np.int64)
    p[0, K.P_BY] = year - age
    arr = np.zeros((1, K.A_NCOL), np.int64)
    arr[0, K.A_PSTART], arr[0, K.A_PEND] = 0, 1 + kids
    ap = np.zeros((1 + kids, K.AP_NCOL), np.int64)
    ap[0, K.AP_BY], ap[0, K.AP_ROLE] = year - age, K.ROLE_CORE
    ap[1:, K.AP_ROLE] = K.ROLE_CHILD
    got = K.find_vacancy(sk, hh, p, d, arr, ap, par, np.int64(year), ve, vhead, vtail, 0, day)
    reference = naive_synth.find_vacancy(vacancies, {
        "seg": seg, "kind": kind, "income": income, "muni": muni, "age": age, "kids": kids,
        "atype": atype, "reach": reach, "wide": wide,
    }, day, {"floor": par[K.PR_PRICE_FLOOR], "cut": par[K.PR_PRICE_CUT], "scan": scan, "help": help,
             "private": private})
    assert (None if got < 0 else got) == reference
    # unlinking stale entries keeps every live one, in order
    for lst in range(N_VLISTS):
        chain, e = [], vhead[lst]
        while e >= 0:
            chain.append(ve[e, 0])
            e = ve[e, 2]
        sg, rest = divmod(lst, N_MUNI * K.N_ATYPE)
        mu, at = divmod(rest, K.N_ATYPE)
        live = [v["index"] for v in vacancies if (v["seg"], v["muni"], v["atype"]) == (sg, mu, at) and v["live"]]
        assert [x for x in chain if x in set(live)] == live


@settings(max_examples=200, deadline=None)
@given(hazards=st.one_of(st.lists(st.floats(0, 0.8), min_size=n, max_size=n) for n in (3, 5)),
       key=st.integers(0, 2**63),
       h=st.integers(0, 10**7), slot=st.integers(1, 2))
def test_competing_risks_match_reference(hazards, key, h, slot):
    # tuples of the kernel's two lengths (mobility 3, demography 5), as year_start passes them
    got = K.pick(tuple(hazards), np.uint64(key), h, 10 * slot, 19_000, 365)
    assert tuple(int(x) for x in got) == naive_synth.pick(hazards, key, h, slot, 19_000, 365)


@settings(max_examples=300, deadline=None)
@given(kind=st.integers(0, 4), size=st.integers(1, 8), kids=st.integers(0, 6), core=st.integers(1, 2),
       age=st.integers(18, 95), income=st.integers(0, 2_000_000), cur_tenure=st.integers(-1, 2),
       cur_rooms=st.integers(0, 5), u=st.tuples(*[st.floats(0, 1, exclude_max=True)] * 3),
       help=st.sampled_from([1.0, 1.5, 3.0]))
def test_target_choice_matches_reference(kind, size, kids, core, age, income, cur_tenure, cur_rooms, u, help):
    cfg = load_config("tiny")
    cost = cfg.by_tenure("market", "required_income")
    par = PAR.copy()
    par[K.PR_START_HELP] = help
    got = K.choose_target(par, cost, kind, size, kids, core, age, income, cur_tenure, cur_rooms, *u)
    ref = naive_synth.choose_target(cost.tolist(), PAR[K.PR_OWNER_PREF], PAR[K.PR_COOP_PREF], kind, size, kids,
                                    core, age, income, cur_tenure, cur_rooms, *u, help=help)
    assert tuple(int(x) for x in got) == ref


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n_hh=st.integers(1, 8), n_p=st.integers(0, 30), cap=st.sampled_from([2**31 - 1, 500_000]))
def test_snapshot_rows_match_reference(data, n_hh, n_p, cap):
    hh = np.full((n_hh, K.H_NCOL), -7, np.int64)
    p = np.full((n_p + 3, K.P_NCOL), -7, np.int64)  # rows past n_p are not read
    person_ix = st.integers(-1, max(n_p - 1, 0))
    households = [{"head": data.draw(person_ix), "partner": data.draw(person_ix),
                   "dwelling": data.draw(st.integers(-1, 100))} for _ in range(n_hh)]
    persons = [{"household": data.draw(st.integers(-1, n_hh - 1)), "child": data.draw(st.booleans()),
                "income": data.draw(st.integers(0, 2**32))} for _ in range(n_p)]
    for h, x in enumerate(households):
        hh[h, K.H_HEAD], hh[h, K.H_PARTNER], hh[h, K.H_DW] = x["head"], x["partner"], x["dwelling"]
    for q, x in enumerate(persons):
        p[q, K.P_HH], p[q, K.P_INCOME] = x["household"], x["income"]
        p[q, K.P_ROLE] = K.ROLE_CHILD if x["child"] else K.ROLE_CORE
    got = K.snapshot_rows(hh, p, n_p, cap)
    assert [a.dtype for a in got] == [np.int32] * 4 + [np.int8]
    assert list(zip(*(a.tolist() for a in got))) == naive_synth.snapshot_rows(households, persons, cap)


I64 = st.integers(-(2**63), 2**63 - 1)
event_keys = st.builds(lambda day, prio, jit: (day << 40) | (prio << 39) | jit,
                       st.integers(0, 365), st.integers(0, 1), st.integers(0, 2**39 - 1))


@settings(max_examples=200, deadline=None)
@given(keys=st.one_of(st.lists(I64, max_size=60), st.lists(st.integers(-3, 3), max_size=60),
                      st.lists(event_keys, max_size=300),
                      st.lists(st.sampled_from([-(2**63), 2**63 - 1, 0, -1, 1 << 40]), max_size=20)))
def test_radix_argsort_matches_stable_sort(keys):
    """The event sort: ties (many in the small-range lists), negatives, extremes and empty input."""
    got = radix_argsort(np.array(keys, dtype=np.int64))
    assert got.dtype == np.int64
    assert got.tolist() == naive_synth.stable_argsort(keys)
    assert got.tolist() == np.argsort(np.array(keys, dtype=np.int64), kind="stable").tolist()


@settings(max_examples=200, deadline=None)
@given(u=st.floats(0, 1, exclude_max=True), reach=st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.0]),
       x=st.floats(0, 5e6))
def test_reach_and_income_band_match_reference(u, reach, x):
    """Where a seeker looks (area-type steps, P(radius >= k) = reach ** k) and the band of what it can pay."""
    assert K.reach_radius(u, reach) == naive_synth.reach_radius(u, reach)
    assert K.income_band(x) == naive_synth.income_band(x)
    assert K.income_band(x) <= K.income_band(x * 1.01 + 1)  # bands rise with what one can pay
