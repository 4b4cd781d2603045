import uuid

from django.core.management.base import BaseCommand, CommandError

from documents.models import Corpus
from documents.services.search import reindex_corpus


class Command(BaseCommand):
    help = (
        "Make the search index of corpora again from their texts (SearchCorpus): after a bulk load made with "
        "indexing paused, or to check that the index holds what it should. Searches keep answering meanwhile."
    )

    def add_arguments(self, parser):
        parser.add_argument("corpora", nargs="*", help="IDs of the corpora to index")
        parser.add_argument("--all", action="store_true", help="Every indexable corpus.")

    def handle(self, *args, corpora, all, **options):
        if all:
            selected = list(Corpus.objects.filter(indexable=True, deleting__isnull=True).order_by("name"))
        elif corpora:
            ids = []
            for value in corpora:
                try:
                    ids.append(uuid.UUID(value))
                except ValueError:
                    raise CommandError(f"'{value}' is not a corpus ID.") from None
            found = {corpus.id: corpus for corpus in Corpus.objects.filter(id__in=ids)}
            missing = [str(corpus_id) for corpus_id in ids if corpus_id not in found]
            if missing:
                raise CommandError(f"No corpus {', '.join(missing)}.")
            plain = [corpus.name for corpus in found.values() if not corpus.indexable]
            if plain:
                raise CommandError(
                    f"Corpus {', '.join(plain)} is not indexable: mark it indexable in the admin first "
                    "(which indexes it by itself)."
                )
            selected = [found[corpus_id] for corpus_id in ids]
        else:
            raise CommandError("Name the corpora to index by their corpus IDs, or --all.")

        total = 0
        for corpus in selected:
            self.stdout.write(f"Indexing corpus {corpus.name} ({corpus.id})…")

            def progress(done, count):
                if count:
                    self.stdout.write(f"  {done:,}/{count:,} elements")
                    self.stdout.flush()

            entries = reindex_corpus(corpus.id, progress=progress)
            self.stdout.write(f"  {entries:,} search entries")
            total += entries
        corpora_count = f"{len(selected)} corpus" if len(selected) == 1 else f"{len(selected)} corpora"
        self.stdout.write(f"Indexed {corpora_count}: {total:,} search entries.")
