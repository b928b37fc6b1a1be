"""Realistic generated case studies and queries for the search benchmark.

Deterministic for a given seed. English text is built from sentence
templates over an education and vocational-training vocabulary, with a
long tail of generated proper names (schools, firms, programmes) the way
real case studies have; about one case study in ten is written in Chinese,
Japanese or Korean. Bodies are Markdown (headings, lists, emphasis), so
indexing goes through the same Markdown-to-text step as real data.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

CITIES = {
    "denver": ("Denver", "United States"),
    "hiroshima": ("Hiroshima", "Japan"),
    "hong-kong": ("Hong Kong", "China"),
    "houston": ("Houston", "United States"),
    "lexington": ("Lexington", "United States"),
    "melbourne": ("Melbourne", "Australia"),
    "seattle": ("Seattle", "United States"),
    "seoul": ("Seoul", "South Korea"),
    "shanghai": ("Shanghai", "China"),
    "singapore": ("Singapore", "Singapore"),
    "toronto": ("Toronto", "Canada"),
}
PROBLEMS = {
    "work-based-learning": "Work-based learning",
    "career-guidance": "Career guidance",
    "apprenticeships": "Apprenticeships",
    "teacher-development": "Teacher professional development",
    "employer-engagement": "Employer engagement",
    "dropout-prevention": "Dropout prevention",
    "digital-skills": "Digital skills",
    "credential-recognition": "Recognition of credentials",
    "equity-and-access": "Equity and access",
    "curriculum-reform": "Curriculum reform",
    "school-to-work-transition": "School-to-work transition",
    "adult-reskilling": "Adult reskilling",
    "green-skills": "Green skills",
    "student-wellbeing": "Student wellbeing",
}
CONTEXTS = {
    "centralised-governance": ("Centralised governance", "governance"),
    "devolved-governance": ("Devolved governance", "governance"),
    "public-funding": ("Public funding", "funding"),
    "employer-co-funding": ("Employer co-funding", "funding"),
    "philanthropic-funding": ("Philanthropic funding", "funding"),
    "exam-oriented-culture": ("Exam-oriented culture", "culture"),
    "strong-trade-tradition": ("Strong trade tradition", "culture"),
    "large-system": ("Large system", "scale"),
    "small-system": ("Small system", "scale"),
    "multilingual-students": ("Multilingual students", "language"),
    "english-medium": ("English-medium instruction", "language"),
    "tight-labour-market": ("Tight labour market", "labour_market"),
    "high-youth-unemployment": ("High youth unemployment", "labour_market"),
    "strong-unions": ("Strong unions", "labour_market"),
}
EDUCATION_LEVELS = ["lower_secondary", "upper_secondary", "post_secondary", "tertiary",
                    "adult", "system_wide"]
EVIDENCE_LEVELS = [None, "descriptive", "correlational", "quasi_experimental", "experimental"]

TOPICS = [
    "apprenticeship", "apprenticeships", "internship", "internships", "work placement",
    "job shadowing", "career guidance", "career counselling", "mentoring", "work-based learning",
    "dual training", "industry partnership", "employer engagement", "school-to-work transition",
    "pathways", "micro-credentials", "digital skills", "coding", "green skills", "STEM",
    "teacher training", "professional development", "curriculum reform", "assessment",
    "recognition of prior learning", "credit transfer", "dropout prevention", "attendance",
    "literacy", "numeracy", "student wellbeing", "equity", "access", "inclusion",
    "skills forecasting", "labour market information", "youth unemployment", "reskilling",
    "upskilling", "vocational qualifications", "technical education", "career academies",
    "early college", "dual enrolment", "project-based learning", "capstone projects",
]
SECTORS = [
    "healthcare", "nursing", "hospitality", "tourism", "construction", "advanced manufacturing",
    "automotive", "aviation", "logistics", "information technology", "cybersecurity",
    "renewable energy", "agriculture", "finance", "retail", "creative industries", "biotech",
    "early childhood education", "maritime", "electrical trades", "plumbing", "welding",
]
GROUPS = [
    "students", "upper secondary students", "young people", "adult learners", "teachers",
    "school leaders", "career advisers", "employers", "parents", "apprentices",
    "migrant students", "students with disabilities", "first-generation students",
    "girls in STEM", "out-of-school youth", "trainers", "principals",
]
VERBS = [
    "introduced", "piloted", "scaled", "redesigned", "funded", "evaluated", "expanded",
    "launched", "co-designed", "embedded", "adapted", "tested", "replaced", "strengthened",
]
OUTCOMES = [
    "completion rates rose", "employment after graduation improved", "attendance increased",
    "more students enrolled", "employer satisfaction grew", "dropout fell",
    "wages of graduates increased", "teacher retention improved", "placement rates doubled",
    "female enrolment in technical programmes grew", "credential attainment increased",
]
FILLER = [
    "the", "programme", "district", "school", "college", "network", "board", "ministry",
    "partners", "local", "regional", "national", "year", "cohort", "evaluation", "data",
    "staff", "funding", "budget", "scale", "pilot", "model", "approach", "policy", "system",
    "practice", "workplace", "industry", "union", "council", "agency", "chamber", "skills",
    "training", "learning", "course", "module", "semester", "term", "hours", "weeks",
]
TEMPLATES = [
    "{city} {verb} a {topic} programme for {group} in {sector}.",
    "The {name} {kind} {verb} {topic} with {name2}, a local {sector} employer.",
    "Over {n} {group} took part in the first {period}, and {outcome}.",
    "Teachers worked with {sector} firms to align {topic} with industry standards.",
    "The {kind} combined {topic} and {topic2} so that {group} could earn credit.",
    "Funding came from the {name} Foundation and the city's {sector} council.",
    "An evaluation by {name} University found that {outcome} among {group}.",
    "Coordinators met {group} every {period} to review progress on {topic}.",
    "{city} adapted the model from {city2}, changing how {topic} was assessed.",
    "The main barrier was finding enough {sector} placements for {group}.",
    "Schools in {district} shared staff and equipment for {topic} in {sector}.",
    "Employers such as {name} offered paid {topic} to {n} {group}.",
    "The {kind} was scaled to {n} schools after {outcome}.",
    "Unions and the {name} chamber of commerce co-designed the {topic} curriculum.",
    "A {period}-long {topic} pilot in {sector} reached {group} who had left school early.",
]
KINDS = ["academy", "institute", "centre", "programme", "initiative", "partnership",
         "college", "school", "network", "trust"]
PERIODS = ["year", "semester", "term", "month", "summer", "two-year"]
SYLLABLES = ["bar", "ven", "tor", "lin", "mar", "del", "kas", "ro", "an", "bel", "cor", "dun",
             "ell", "fen", "gar", "hal", "ist", "jor", "kel", "lum", "mor", "nor", "oss",
             "pel", "quin", "ras", "sel", "tam", "ul", "vor", "wes", "yar", "zan"]

ZH_WORDS = ["职业教育", "学徒制", "校企合作", "实习", "课程改革", "教师培训", "就业指导",
            "学生", "企业", "技能", "数字化", "产教融合", "中等职业学校", "评估", "毕业生",
            "就业率", "雇主", "项目", "城市", "试点", "资金", "社区", "青年", "绿色技能"]
ZH_JOINS = ["的", "和", "在", "通过", "提高了", "推动", "与", "为", "开展"]
JA_WORDS = ["職業教育", "インターンシップ", "キャリア教育", "地域", "企業", "連携", "高校",
            "生徒", "教員研修", "デジタル", "評価", "卒業生", "就職率", "専門学校", "実習",
            "プログラム", "学校", "協力", "若者", "技能"]
JA_JOINS = ["の", "と", "を", "に", "で", "が", "は", "として"]
JA_ENDINGS = ["を実施した。", "を進めている。", "が改善した。", "に取り組んだ。"]
KO_WORDS = ["직업교육", "현장실습", "진로지도", "기업", "협력", "학생", "교사", "연수",
            "마이스터고", "특성화고", "평가", "졸업생", "취업률", "지역사회", "청년",
            "디지털", "기술", "프로그램", "학교", "도제교육"]
KO_PARTICLES = ["을", "를", "와", "의", "에서", "과", "은", "는", "이"]
KO_ENDINGS = ["하였다.", "추진하였다.", "개선되었다.", "운영한다."]


@dataclass
class GeneratedCase:
    """One generated case study, ready to insert."""

    title: str
    summary: str
    body: str
    implementation: str
    outcomes: str
    cost_notes: str
    enablers: str
    barriers: str
    city: str
    language: str
    education_level: str
    evidence_level: str | None
    year_start: int | None
    year_end: int | None
    status: str
    problems: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)


class CorpusGenerator:
    """Makes case studies and queries from one seeded random source."""

    def __init__(self, seed: int = 7):
        self.rng = random.Random(seed)
        self.names = [self._pseudo_name() for _ in range(4000)]
        # Zipf-like weights: a few names are everywhere, most are rare.
        self.name_weights = list(
            itertools.accumulate(1.0 / (rank + 1) for rank in range(len(self.names)))
        )

    def _pseudo_name(self) -> str:
        parts = self.rng.randint(2, 3)
        return "".join(self.rng.choice(SYLLABLES) for _ in range(parts)).capitalize()

    def _name(self) -> str:
        return self.rng.choices(self.names, cum_weights=self.name_weights)[0]

    def _sentence(self, city: str) -> str:
        rng = self.rng
        template = rng.choice(TEMPLATES)
        return template.format(
            city=CITIES[city][0], city2=CITIES[rng.choice(list(CITIES))][0],
            verb=rng.choice(VERBS), topic=rng.choice(TOPICS), topic2=rng.choice(TOPICS),
            group=rng.choice(GROUPS), sector=rng.choice(SECTORS), outcome=rng.choice(OUTCOMES),
            name=self._name(), name2=self._name(), kind=rng.choice(KINDS),
            n=rng.choice([12, 40, 85, 120, 300, 1200, 4000]), period=rng.choice(PERIODS),
            district=f"{self._name()} district",
        ).capitalize() + " " + " ".join(rng.choices(FILLER, k=rng.randint(0, 4)))

    def _paragraph(self, city: str, sentences: int) -> str:
        return " ".join(self._sentence(city) for _ in range(sentences))

    def _cjk_sentence(self, language: str) -> str:
        rng = self.rng
        if language == "zh":
            words = rng.choices(ZH_WORDS, k=rng.randint(3, 6))
            return "".join(w + rng.choice(ZH_JOINS) for w in words[:-1]) + words[-1] + "。"
        if language == "ja":
            words = rng.choices(JA_WORDS, k=rng.randint(3, 5))
            return "".join(w + rng.choice(JA_JOINS) for w in words[:-1]) + words[-1] \
                + rng.choice(JA_ENDINGS)
        words = rng.choices(KO_WORDS, k=rng.randint(3, 5))
        return " ".join(w + rng.choice(KO_PARTICLES) for w in words[:-1]) + " " + words[-1] \
            + rng.choice(KO_ENDINGS)

    def _text(self, city: str, language: str, sentences: int) -> str:
        if language in ("zh", "ja", "ko"):
            sep = "" if language != "ko" else " "
            return sep.join(self._cjk_sentence(language) for _ in range(sentences))
        return self._paragraph(city, sentences)

    def case(self) -> GeneratedCase:
        """One random case study."""
        rng = self.rng
        city = rng.choice(list(CITIES))
        language = rng.choices(["en", "zh", "ja", "ko", "fr", "es"],
                               weights=[88, 4, 3, 3, 1, 1])[0]
        if language in ("en", "fr", "es"):
            title = f"{rng.choice(TOPICS).capitalize()} for {rng.choice(GROUPS)} " \
                    f"in {rng.choice(SECTORS)}: the {self._name()} {rng.choice(KINDS)}"
        else:
            title = self._cjk_sentence(language).rstrip("。.")[:60]
        body = (
            f"## Context\n\n{self._text(city, language, 4)}\n\n"
            f"## What was done\n\n{self._text(city, language, 5)}\n\n"
            + "\n".join(f"- **{rng.choice(TOPICS)}**: {self._text(city, language, 1)}"
                        for _ in range(3))
            + f"\n\n{self._text(city, language, 4)}"
        )
        year_start = rng.choice([None, *range(2005, 2025)])
        year_end = None
        if year_start is not None and rng.random() < 0.6:
            year_end = min(2025, year_start + rng.randint(0, 6))
        return GeneratedCase(
            title=title,
            summary=self._text(city, language, 3),
            body=body,
            implementation="\n".join(f"{i}. {self._text(city, language, 1)}" for i in range(1, 5)),
            outcomes=self._text(city, language, 3),
            cost_notes=self._text(city, language, 1),
            enablers=self._text(city, language, 1),
            barriers=self._text(city, language, 1),
            city=city,
            language=language,
            education_level=rng.choice(EDUCATION_LEVELS),
            evidence_level=rng.choice(EVIDENCE_LEVELS),
            year_start=year_start,
            year_end=year_end,
            status=rng.choices(["published", "draft", "submitted"], weights=[85, 10, 5])[0],
            problems=rng.sample(list(PROBLEMS), rng.randint(1, 3)),
            contexts=rng.sample(list(CONTEXTS), rng.randint(0, 3)),
        )

    def cases(self, n: int) -> list[GeneratedCase]:
        """``n`` random case studies."""
        return [self.case() for _ in range(n)]

    def short_queries(self, n: int) -> list[str]:
        """``n`` queries of one to four words, the way people type them into a search box."""
        rng = self.rng
        pools = [TOPICS, SECTORS, GROUPS, [c[0] for c in CITIES.values()], FILLER]
        queries = []
        while len(queries) < n:
            words: list[str] = []
            for _ in range(rng.randint(1, 3)):
                words.extend(rng.choice(rng.choice(pools)).split())
            if rng.random() < 0.1:
                words.append(self._name())
            queries.append(" ".join(words[: rng.randint(1, 4)]))
        return queries

    def long_queries(self, n: int) -> list[str]:
        """``n`` natural-language questions of about ten to twenty words."""
        rng = self.rng
        forms = [
            "how do cities use {topic} to help {group} find work in {sector}",
            "what evidence is there that {topic} improves outcomes for {group}",
            "which programmes combine {topic} and {topic2} for {group} in {sector}",
            "examples of employers and schools working together on {topic} in {city}",
            "how was {topic} adapted from one city to another and what changed for {group}",
        ]
        return [
            rng.choice(forms).format(
                topic=rng.choice(TOPICS), topic2=rng.choice(TOPICS), group=rng.choice(GROUPS),
                sector=rng.choice(SECTORS), city=rng.choice(list(CITIES.values()))[0],
            )
            for _ in range(n)
        ]
