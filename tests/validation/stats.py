"""Comparisons: relative errors, pass/fail rows, and the chi-square test of a measured histogram against a
predicted distribution."""
import math


def rel_error(predicted, measured):
    if measured is None or predicted is None or measured == 0 or math.isnan(measured) or math.isnan(predicted):
        return None
    return (predicted - measured) / measured


def count_within(predicted, measured, factor, absolute):
    """Counts (e.g. resets): predicted within a factor of the measured, or within `absolute` of it, whichever
    band is wider."""
    if predicted is None or measured is None:
        return False
    if abs(predicted - measured) <= absolute:
        return True
    return measured > 0 and measured / factor <= predicted <= measured * factor


def _judge(kind, predicted, measured, tolerance):
    if kind == "count":
        return (None if predicted is None or measured is None else predicted - measured,
                count_within(predicted, measured, *tolerance))
    if kind == "relative":
        e = rel_error(predicted, measured)
        return e, (e is not None and abs(e) <= tolerance)
    if kind == "points":
        e = None if predicted is None or measured is None else (predicted - measured) * 100.0
        return e, (e is not None and abs(e) <= tolerance)
    return rel_error(predicted, measured), None


def figure(name, predicted, measured, tolerance, kind="relative", note=None, noise_aware=None):
    """kind: 'relative' (|p - m| / m <= tol), 'points' (|p - m| in percentage points <= tol, both given as
    fractions), 'p_value' (measured is a p-value that must be >= tol; predicted unused), 'count' (tol = (factor,
    absolute): see count_within; error = p - m), 'info' (no tolerance).
    noise_aware: the same figure predicted with the measured background load added (never decides pass)."""
    row = {"figure": name, "predicted": predicted, "measured": measured, "tolerance": tolerance, "kind": kind}
    if noise_aware is not None:
        e, ok = _judge(kind if kind in ("relative", "points", "count") else "info", noise_aware, measured, tolerance)
        row.update({"predicted_noise_aware": noise_aware, "error_noise_aware": e, "pass_noise_aware": ok})
    if kind == "relative":
        e = rel_error(predicted, measured)
        row["error"] = e
        row["pass"] = e is not None and abs(e) <= tolerance
    elif kind == "points":
        e = None if predicted is None or measured is None else (predicted - measured) * 100.0
        row["error"] = e
        row["pass"] = e is not None and abs(e) <= tolerance
    elif kind == "p_value":
        row["error"] = None
        row["pass"] = measured is not None and measured >= tolerance
    elif kind == "count":
        row["error"], row["pass"] = _judge(kind, predicted, measured, tolerance)
    elif kind == "info":
        row["error"] = rel_error(predicted, measured)
        row["pass"] = None
    if note:
        row["note"] = note
    return row


def chi_square(observed, expected_freq, min_expected=5.0):
    """observed: {value: count}; expected_freq: {value: relative frequency (any scale)}. Bins are merged from the
    tails inwards until every expected count is >= min_expected. Returns statistic, dof, p and the bins used."""
    from scipy.stats import chi2
    n = sum(observed.values())
    total = float(sum(expected_freq.values()))
    values = sorted(set(observed) | set(expected_freq))
    bins = [[[v], observed.get(v, 0), n * expected_freq.get(v, 0) / total] for v in values]

    def merge(i, j):
        a, b = bins[i], bins[j]
        bins[min(i, j)] = [a[0] + b[0] if i < j else b[0] + a[0], a[1] + b[1], a[2] + b[2]]
        del bins[max(i, j)]

    changed = True
    while changed and len(bins) > 1:
        changed = False
        if bins[0][2] < min_expected:
            merge(0, 1)
            changed = True
        elif bins[-1][2] < min_expected:
            merge(len(bins) - 2, len(bins) - 1)
            changed = True
        else:
            for i in range(1, len(bins) - 1):
                if bins[i][2] < min_expected:
                    j = i - 1 if bins[i - 1][2] < bins[i + 1][2] else i + 1
                    merge(i, j)
                    changed = True
                    break
    stat = 0.0
    for _, o, e in bins:
        if e > 0:
            stat += (o - e) ** 2 / e
        elif o > 0:
            stat = float("inf")
    dof = len(bins) - 1
    p = float(chi2.sf(stat, dof)) if dof > 0 else 1.0
    return {"statistic": stat, "dof": dof, "p": p,
            "bins": [{"values": v, "observed": o, "expected": round(e, 2)} for v, o, e in bins]}
