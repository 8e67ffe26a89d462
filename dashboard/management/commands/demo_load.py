"""`make demo`: real LLMBar + PandaLM data as several batches, routed, with part of the human
work played back from the recorded human labels by demo reviewers."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from hybridqc.flows.batches import batch_route
from hybridqc.flows.imports import batch_import
from reviewers.models import Credential, HumanLabel, ReviewerProfile, ReviewTask
from reviewers.references import label_reference
from reviewers.roles_setup import roles_ensure
from reviewers.services import review_label_submit, review_task_claim
from routing.batches.models import Batch, Domain
from routing.judging.models import JudgeConfig
from routing.judging.services import judge_config_create
from routing.training.router_training import RouterTrainingError, router_train

PASSWORD = "hybridqc-demo"
FAKE_JUDGE_URL = "http://127.0.0.1:8001/v1"
DATA = Path(settings.BASE_DIR) / "data"
# (batch name, file, first line, last line): several batches so the drift chart has a history.
BATCHES = [
    ("llmbar-natural", "llmbar.jsonl", 1, 100),
    ("llmbar-adversarial", "llmbar.jsonl", 101, 419),
    ("mtbench-experts", "llmbar.jsonl", 420, 619),
    ("pandalm-part1", "pandalm.jsonl", 1, 500),
    ("pandalm-part2", "pandalm.jsonl", 501, 999),
]
# The batch whose gate passes in the demo: its one domain (llmbar/natural, only in this batch) is
# sent to humans entirely, and its human work is played back in full as soon as it is routed, so
# it has no judge-kept item to audit and nothing open. The other batches hold (open tasks, audits
# below the target), so the control center shows both outcomes with their reasons.
FULLY_REVIEWED = {"llmbar-natural": "llmbar/natural"}
# How many months before this one each batch is dated, so the trends page has a history
# (two batches of the same source months apart show its domain's trend). Within a source the batch
# with the larger share routed to humans comes later: the other order is a capability-ceiling drop
# (llmbar: the fully reviewed batch, 100%, then 20.7%), whose alarm would hold the one batch released.
MONTHS_AGO = {"llmbar-natural": 3, "llmbar-adversarial": 5, "mtbench-experts": 2, "pandalm-part1": 1,
              "pandalm-part2": 4}
# (username, credential prefixes, level): the playback crew; `reviewer` is left for the visitor.
CREW = [
    ("alice", ["llmbar", "mtbench"], "expert"),
    ("bob", ["pandalm", "mtbench/coding", "mtbench/math"], "practitioner"),
    ("carol", ["llmbar", "mtbench", "pandalm"], "adjudicator"),
]


def demo_date(today: date, months_ago: int) -> date:
    """The 15th of the month ``months_ago`` before ``today``'s."""
    index = today.year * 12 + today.month - 1 - months_ago
    return date(index // 12, index % 12 + 1, 15)


class Command(BaseCommand):
    help = "Load the demo: users, roster, real batches, routing, and part of the human work done."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--playback", type=float, default=0.7, help="share of human tasks to play back")
        parser.add_argument("--limit", type=int, default=None, help="at most this many items per batch (tests)")

    def handle(self, *args: Any, **opts: Any) -> None:
        roles_ensure()
        self._users()
        for name, file, first, last in BATCHES:
            if Batch.objects.filter(name=name).exists():
                self.stdout.write(f"batch {name} already loaded")
                continue
            lines = (DATA / file).read_text().splitlines()[first - 1 : last][: opts["limit"]]
            if name in FULLY_REVIEWED:
                Domain.objects.update_or_create(path=FULLY_REVIEWED[name], defaults={"always_human": True})
            result = batch_import(batch_name=name, lines=lines, source_name=file,
                                  date=demo_date(timezone.localdate(), MONTHS_AGO.get(name, 0)))
            batch_route(batch=result.batch)
            self.stdout.write(f"batch {name}: {result.created} examples routed")
            if name in FULLY_REVIEWED:
                self._playback(1.0)
                self.stdout.write(f"batch {name}: its human work played back in full")
        self._judge_config()
        done = self._playback(opts["playback"])
        self.stdout.write(f"played back {done} recorded human labels as demo reviewers' work")
        self._router()
        self._print_logins()

    def _user(self, username: str, role: str, **extra: Any) -> User:
        user, created = User.objects.get_or_create(username=username, defaults=extra)
        if created:
            user.set_password(PASSWORD)
            user.save()
        user.groups.add(Group.objects.get(name=role))
        return user

    def _reviewer(self, username: str, prefixes: list[str], level: str) -> None:
        user = self._user(username, "reviewer")
        profile, _ = ReviewerProfile.objects.get_or_create(
            user=user, defaults={"display_name": username.title(), "capacity_per_day": 400}
        )
        for prefix in prefixes:
            Credential.objects.get_or_create(
                reviewer=profile, domain_prefix=prefix,
                defaults={"level": level, "verified_at": timezone.now(), "evidence": "demo",
                          "expires_at": timezone.now() + timedelta(days=365)},
            )

    def _users(self) -> None:
        self._user("admin", "admin", is_staff=True, is_superuser=True)
        self._user("lead", "lead")
        self._reviewer("reviewer", ["llmbar", "mtbench", "pandalm"], "expert")
        for username, prefixes, level in CREW:
            self._reviewer(username, prefixes, level)

    def _recorded_label(self, task: Any) -> float | None:
        labels = list(HumanLabel.objects.filter(example=task.example, source=HumanLabel.Source.IMPORT))
        return label_reference(labels, task.example.task)

    def _playback(self, share: float) -> int:
        """Crew members claim and label tasks with the recorded human label until `share` is done."""
        target = int(ReviewTask.objects.count() * share)
        done = ReviewTask.objects.filter(status=ReviewTask.Status.DONE).count()
        crew = [ReviewerProfile.objects.get(user__username=u) for u, _, _ in CREW]
        idle = 0
        # A full share runs until nobody can claim anything: the second reviews and adjudications
        # that the first labels create are played back too.
        while (share >= 1 or done < target) and idle < len(crew):
            idle = 0
            for profile in crew:
                task = review_task_claim(reviewer=profile)
                if task is None:
                    idle += 1
                    continue
                value = self._recorded_label(task)
                if task.example.task == "rating":
                    review_label_submit(task=task, reviewer=profile, rating=value, rationale="demo playback")
                else:
                    review_label_submit(task=task, reviewer=profile, choice=int(value if value is not None else 0),
                                        rationale="demo playback")
                done += 1
        return done

    def _judge_config(self) -> None:
        """A live judge against the fake OpenAI-compatible server that `make demo` starts."""
        if not JudgeConfig.objects.filter(name="demo-fake-judge").exists():
            judge_config_create(name="demo-fake-judge", base_url=FAKE_JUDGE_URL, model="fake-judge",
                                max_concurrency=32, timeout_s=5.0, retry_budget=3)

    def _router(self) -> None:
        """Train the learned router on the imported and played-back history (certified mode)."""
        try:
            model = router_train()
        except RouterTrainingError as exc:
            self.stdout.write(f"router not trained: {exc}")
            return
        self.stdout.write(f"router v{model.version} trained on {model.n_train} labeled examples")

    def _print_logins(self) -> None:
        self.stdout.write(self.style.SUCCESS(
            "\nHybridQC demo is ready at http://127.0.0.1:8000\n"
            f"  admin    / {PASSWORD}   roster, admin, everything\n"
            f"  lead     / {PASSWORD}   release lead: /control/\n"
            f"  reviewer / {PASSWORD}   reviewer: /review/ (more: alice, bob, carol)\n"
            f"Live judge: judge config 'demo-fake-judge' calls the fake OpenAI-compatible server at {FAKE_JUDGE_URL}\n"
        ))
