"""A synthetic company at any scale, grown from the real Enron e-mail graph.

The contact graph keeps the shape of a real company network: relabelled copies of
email-Enron (36,694 people, 183,832 ties) side by side, joined by sparse bridges between
copies (a few per cent of people know someone in another "division"), then thickened by
triadic closure (people who share a contact meet) up to the wanted number of ties. Teams
are runs of people in breadth-first order of that graph (so teammates are mostly already in
touch), each with a manager; managers report up a tree to one CEO.

Knowledge texts are generated from topic vocabularies. Their vectors come from the real
encoder: a set of base texts is embedded, and each item's vector is its base vector plus
Gaussian jitter (cosine about 0.8 to the base), stored through `Store.save_vectors` like
any other vector. Questions are new texts from the same topics, embedded for real.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

ENRON = Path(__file__).resolve().parents[2] / "shared" / "data" / "email-enron" / "email-Enron.txt"

TOPICS: dict[str, list[str]] = {
    "kubernetes": "pod node cluster helm chart deploy rollout oomkilled memory limit requests "
    "namespace ingress kubectl crashloop probe autoscaler".split(),
    "postgres": "postgres replica lag vacuum index query planner wal replication failover "
    "connection pool pgbouncer deadlock migration schema".split(),
    "payroll": "payroll salary payslip tax withholding bonus overtime payday deduction "
    "pension benefits adjustment".split(),
    "expenses": "expense receipt reimbursement travel per diem mileage corporate card "
    "approval policy hotel flight".split(),
    "security": "soc2 audit evidence access review mfa phishing vulnerability pentest "
    "encryption key rotation incident".split(),
    "sso": "sso saml okta login idp metadata certificate assertion redirect scim "
    "provisioning session".split(),
    "firmware": "firmware ota update bootloader flash sensor battery calibration embedded "
    "rtos watchdog brownout".split(),
    "mobile": "ios android push notification apns fcm build testflight crash symbolicate "
    "deep link app store".split(),
    "sales": "quote discount pricing deal pipeline forecast crm renewal upsell contract "
    "procurement".split(),
    "legal": "nda contract clause liability indemnity redline signature gdpr privacy "
    "counsel trademark".split(),
    "support": "ticket escalation refund sla customer complaint chargeback macro backlog "
    "priority outage".split(),
    "hr": "parental leave vacation holiday onboarding offboarding performance review "
    "promotion hiring interview".split(),
    "data": "warehouse dbt airflow pipeline etl dashboard looker metric snowflake "
    "partition backfill".split(),
    "ml": "model training inference embedding gpu dataset label evaluation drift "
    "feature store".split(),
    "network": "vpn dns firewall latency packet loss load balancer tls certificate "
    "proxy bandwidth".split(),
    "frontend": "react typescript css bundle webpack accessibility component state "
    "rendering hydration".split(),
    "billing": "invoice subscription stripe proration dunning tax vat credit note "
    "payment method".split(),
    "facilities": "office badge desk booking parking printer meeting room cleaning "
    "access card".split(),
    "ci": "pipeline build cache runner flaky test artifact docker image release tag".split(),
    "observability": "metrics alert grafana prometheus tracing logs pager oncall slo "
    "dashboard".split(),
}
TOPIC_NAMES = list(TOPICS)
# Common words that are not stopwords: each shows up across every topic.
FILLER = (
    "again still broken slow fails works setup change problem question help error issue "
    "team new old update access request report status review plan config version "
    "environment production staging customer internal process doc page link list owner "
    "week today yesterday month weekly quarterly meeting document process template form "
    "sheet approval manual automatic limit default missing wrong".split()
)
# Rare terms per topic (service names, hosts, codes), like "pgbouncer3" or "helm17": most
# words of a real corpus are rare, so most query words match few documents.
RARE_PER_WORD = 8
TITLES = ("Engineer", "Senior Engineer", "Analyst", "Manager", "Specialist", "Lead", "Director")
CITIES = [
    ("Berlin", "Europe/Berlin"),
    ("London", "Europe/London"),
    ("New York", "America/New_York"),
    ("Austin", "America/Chicago"),
    ("Singapore", "Asia/Singapore"),
]


@dataclass
class SyntheticOrg:
    """People, their managers and teams, and contact ties (as integer person numbers)."""

    n_people: int
    managers: np.ndarray  # manager number per person, -1 for the CEO
    teams: np.ndarray  # team number per person
    edges: np.ndarray  # (m, 2) contact ties, i < j
    topics: np.ndarray  # (n, 3) topic numbers each person knows about

    @staticmethod
    def person_id(n: int) -> str:
        """The directory id of person number `n`."""
        return f"p{n:06d}"


def read_enron(path: Path = ENRON) -> tuple[int, np.ndarray]:
    """(number of people, (m, 2) edges) of the real email-Enron graph."""
    with open(path) as f:
        n, _ = (int(x) for x in f.readline().split())
        edges = np.loadtxt(f, dtype=np.int64).reshape(-1, 2)
    return n, edges


def grow_org(n_people: int, n_edges: int, seed: int = 0) -> SyntheticOrg:
    """An org of `n_people` with about `n_edges` contact ties, grown from email-Enron."""
    rng = np.random.default_rng(seed)
    base_n, base_edges = read_enron()
    copies = -(-n_people // base_n)
    parts = []
    for c in range(copies):
        relabel = rng.permutation(base_n) + c * base_n  # each copy a fresh numbering
        parts.append(relabel[base_edges])
    edges = np.concatenate(parts)
    edges = edges[(edges < n_people).all(axis=1)]
    # Bridges: a few per cent of people, weighted by degree, know someone in another copy.
    degree = np.bincount(edges.ravel(), minlength=n_people).astype(np.float64) + 1.0
    n_bridges = max(1, int(0.03 * n_people))
    p = degree / degree.sum()
    a = rng.choice(n_people, n_bridges, p=p)
    b = rng.choice(n_people, n_bridges, p=p)
    edges = np.concatenate([edges, np.column_stack([a, b])])
    edges = _canonical(edges)
    edges = _close_triads(edges, n_people, n_edges, rng)
    managers, teams = _hierarchy(edges, n_people, rng)
    # Expertise follows the network a little: teams share a main topic.
    team_topic = rng.integers(0, len(TOPICS), teams.max() + 1)
    topics = np.column_stack(
        [team_topic[teams], rng.integers(0, len(TOPICS), (n_people, 2))]
    ).astype(np.int64)
    return SyntheticOrg(n_people, managers, teams, edges, topics)


def _canonical(edges: np.ndarray) -> np.ndarray:
    edges = np.sort(edges, axis=1)
    edges = edges[edges[:, 0] != edges[:, 1]]
    return np.unique(edges, axis=0)


def _close_triads(edges: np.ndarray, n: int, target: int, rng: np.random.Generator) -> np.ndarray:
    """Add friend-of-a-friend ties until there are `target` ties (or no growth)."""
    for _ in range(20):
        if len(edges) >= target:
            break
        rows = np.r_[edges[:, 0], edges[:, 1]]
        cols = np.r_[edges[:, 1], edges[:, 0]]
        adj = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        degree = np.diff(adj.indptr)
        need = int((target - len(edges)) * 1.3)
        u = rng.choice(np.flatnonzero(degree), need)
        v = adj.indices[adj.indptr[u] + (rng.random(need) * degree[u]).astype(np.int64)]
        w = adj.indices[adj.indptr[v] + (rng.random(need) * degree[v]).astype(np.int64)]
        edges = _canonical(np.concatenate([edges, np.column_stack([u, w])]))
    return edges[rng.permutation(len(edges))[:target]] if len(edges) > target else edges


def _hierarchy(
    edges: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Teams of 4-12 in breadth-first order of the graph, each with a manager; managers
    report to managers up to one CEO, 4-10 reports each."""
    adj = sparse.csr_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, label = csgraph.connected_components(adj, directed=False)
    order = []
    for part in np.argsort(-np.bincount(label)):  # biggest component first
        members = np.flatnonzero(label == part) if part < 50 else None
        if members is None or len(members) == 1:
            break
        order.append(
            csgraph.breadth_first_order(adj, members[0], directed=False, return_predecessors=False)
        )
    done = np.zeros(n, dtype=bool)
    if order:
        done[np.concatenate(order)] = True
    order.append(np.flatnonzero(~done))  # small components and loners, in number order
    order = np.concatenate(order)
    teams = np.zeros(n, dtype=np.int64)
    managers = np.full(n, -1, dtype=np.int64)
    leads = []
    pos, team = 0, 0
    while pos < n:
        size = int(rng.integers(4, 13))
        members = order[pos : pos + size]
        teams[members] = team
        lead = members[0]
        managers[members[1:]] = lead
        leads.append(lead)
        pos += size
        team += 1
    level = np.array(leads)
    while len(level) > 1:  # managers of managers, up to the CEO
        nxt = []
        pos = 0
        while pos < len(level):
            size = int(rng.integers(4, 11))
            group = level[pos : pos + size]
            managers[group[1:]] = group[0]
            nxt.append(group[0])
            pos += size
        level = np.array(nxt)
    return managers, teams


# --------------------------------------------------------------------------- files


def write_people_csv(org: SyntheticOrg, path: Path) -> None:
    """The directory file (`whoknows import directory` format)."""
    rng = np.random.default_rng(1)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            ["id", "name", "email", "title", "department", "team", "manager_id", "location",
             "timezone", "skills"]
        )  # fmt: skip
        for n in range(org.n_people):
            pid = org.person_id(n)
            topic = TOPIC_NAMES[org.topics[n, 0]]
            city, tz = CITIES[n % len(CITIES)]
            manager = org.managers[n]
            skills = ";".join(dict.fromkeys(TOPIC_NAMES[t] for t in org.topics[n]))
            w.writerow(
                [pid, f"Person {n}", f"{pid}@example.com", TITLES[int(rng.integers(0, 7))],
                 topic.capitalize(), f"team-{org.teams[n]}",
                 org.person_id(manager) if manager >= 0 else "", city, tz, skills]
            )  # fmt: skip


def write_contacts_csv(org: SyntheticOrg, path: Path) -> None:
    """The contacts file (`whoknows import contacts` format): mostly plain contacts, some
    "interacted" and "helped" ties, weights from 1 to a few."""
    rng = np.random.default_rng(2)
    kinds = np.array(["contact", "interacted", "helped"])[
        rng.choice(3, len(org.edges), p=[0.7, 0.2, 0.1])
    ]
    weights = rng.geometric(0.5, len(org.edges))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "kind", "weight"])
        for (a, b), kind, weight in zip(org.edges.tolist(), kinds, weights.tolist(), strict=True):
            w.writerow([org.person_id(a), org.person_id(b), kind, weight])


# ----------------------------------------------------------------------- knowledge


def _zipf(n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1)
    return np.cumsum(weights / weights.sum())


_FILLER_CDF = _zipf(len(FILLER))


def sentence(topic: int, rng: np.random.Generator, words: int) -> str:
    """Words of one topic: its common terms (Zipf-distributed), its rare terms, and
    some words common to every topic."""
    vocab = TOPICS[TOPIC_NAMES[topic]]
    cdf = _zipf(len(vocab))
    picks = []
    for _ in range(words):
        r = rng.random()
        if r < 0.55:
            picks.append(vocab[int(np.searchsorted(cdf, rng.random()))])
        elif r < 0.85:
            word = vocab[int(rng.integers(len(vocab)))]
            picks.append(f"{word}{int(rng.integers(RARE_PER_WORD))}")
        else:
            picks.append(FILLER[int(np.searchsorted(_FILLER_CDF, rng.random()))])
    return " ".join(picks)


def base_texts(n: int, seed: int = 3) -> tuple[list[str], np.ndarray]:
    """`n` short texts (titles) and the topic of each."""
    rng = np.random.default_rng(seed)
    topics = rng.integers(0, len(TOPICS), n)
    return [sentence(int(t), rng, int(rng.integers(5, 10))) for t in topics], topics


def questions(n: int, seed: int = 4) -> list[str]:
    """`n` questions someone might ask."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        t = int(rng.integers(len(TOPICS)))
        out.append(f"how do I {sentence(t, rng, int(rng.integers(4, 9)))}?")
    return out


def jittered(base: np.ndarray, rng: np.random.Generator, noise: float = 0.75) -> np.ndarray:
    """Unit vectors near `base` rows (cosine about 1 / sqrt(1 + noise^2))."""
    scale = noise / np.sqrt(base.shape[1])
    out = base + rng.standard_normal(base.shape, dtype=np.float32) * np.float32(scale)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def knowledge_chunks(
    org: SyntheticOrg,
    n_items: int,
    bases: list[str],
    base_topics: np.ndarray,
    chunk: int = 50_000,
    seed: int = 5,
) -> Iterator[tuple[list[dict], np.ndarray]]:
    """Chunks of (item rows, base number of each item): each item is written by a person
    (prolific people write more) on one of their topics, titled by a base text on it."""
    rng = np.random.default_rng(seed)
    weight = rng.lognormal(0.0, 1.0, org.n_people)
    authors = rng.choice(org.n_people, n_items, p=weight / weight.sum())
    by_topic = [np.flatnonzero(base_topics == t) for t in range(len(TOPICS))]
    kinds = np.array(["post", "answer", "doc", "question", "comment"])
    for start in range(0, n_items, chunk):
        stop = min(start + chunk, n_items)
        m = stop - start
        who = authors[start:stop]
        topic = org.topics[who, rng.integers(0, 3, m)]
        base_of = np.array([by_topic[t][rng.integers(len(by_topic[t]))] for t in topic])
        lengths = rng.integers(15, 40, m)
        words = _words(np.repeat(topic, lengths), rng)
        ends = np.cumsum(lengths)
        kind = kinds[rng.integers(0, len(kinds), m)]
        rows = [
            {
                "id": f"k{k:07d}",
                "person_id": org.person_id(int(who[n])),
                "title": bases[base_of[n]],
                "text": " ".join(words[ends[n] - lengths[n] : ends[n]]),
                "kind": str(kind[n]),
                "created_at": f"2025-{1 + k % 12:02d}-{1 + k % 28:02d}",
            }
            for n, k in enumerate(range(start, stop))
        ]
        yield rows, base_of


def _words(topics: np.ndarray, rng: np.random.Generator) -> list[str]:
    """One word per entry of `topics`, drawn as `sentence` draws them (vectorised)."""
    n = len(topics)
    common = [TOPICS[name] for name in TOPIC_NAMES]
    sizes = np.array([len(v) for v in common])
    r = rng.random(n)
    u = rng.random(n)
    word = np.zeros(n, dtype=np.int64)
    for t, size in enumerate(sizes):
        chosen = topics == t
        word[chosen] = np.searchsorted(_zipf(int(size)), u[chosen])
    rare_word = (rng.random(n) * sizes[topics]).astype(np.int64)
    rare_n = rng.integers(0, RARE_PER_WORD, n)
    filler = np.searchsorted(_FILLER_CDF, rng.random(n))
    out = []
    for i in range(n):
        if r[i] < 0.55:
            out.append(common[topics[i]][word[i]])
        elif r[i] < 0.85:
            out.append(f"{common[topics[i]][rare_word[i]]}{rare_n[i]}")
        else:
            out.append(FILLER[filler[i]])
    return out


def digest(path: Path) -> str:
    """A short fingerprint of a file (to show runs used the same data)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
