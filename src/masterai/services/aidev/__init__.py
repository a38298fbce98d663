"""AI development services: prompts, training datasets, fine-tuning jobs, model evaluation.

Entry points: :mod:`~masterai.services.aidev.prompts` (rubrics, variations, examples),
:class:`~masterai.services.aidev.datasets.DatasetService` (training data from conversations),
:class:`~masterai.services.aidev.finetune.FineTuneService` (provider-neutral jobs) and
:class:`~masterai.services.aidev.modeleval.ModelEvaluationService`.
"""
