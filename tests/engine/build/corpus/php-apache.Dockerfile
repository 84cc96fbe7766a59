FROM php:8.3-apache
RUN docker-php-ext-install pdo pdo_mysql \
    && a2enmod rewrite
COPY --chown=www-data:www-data src/ /var/www/html/
ADD https://getcomposer.org/installer /tmp/composer-setup.php
ADD --chmod=755 scripts/start.sh /usr/local/bin/start
ENV APACHE_DOCUMENT_ROOT=/var/www/html/public
RUN sed -ri -e 's!/var/www/html!${APACHE_DOCUMENT_ROOT}!g' /etc/apache2/sites-available/*.conf
